// Command complete is the CompleteFunction of template.yaml: it serves that function's
// routes, adapted from API Gateway HTTP API (payload 2.0) events.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"chunkup/internal/api"
)

func main() {
	svc, err := api.Setup(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lambda.Start(httpadapter.NewV2(svc.Handler(api.CompleteFunction)).ProxyWithContext)
}
