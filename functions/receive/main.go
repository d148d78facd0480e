// Command receive is the ReceiveFunction of template.yaml: it serves that function's
// routes, adapted from API Gateway HTTP API (payload 2.0) events.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"chunkup/internal/api"
	"chunkup/internal/wire/lambdahttp"
)

func main() {
	svc, err := api.Setup(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lambda.Start(lambdahttp.New(svc.Handler(api.ReceiveFunction)))
}
