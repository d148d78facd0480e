// Command cleanup is the CleanupFunction of template.yaml: on each
// EventBridge schedule event it expires stale uploads and deletes what
// they stored.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"chunkup/internal/api"
)

func main() {
	svc, err := api.Setup(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lambda.Start(svc.Sweep)
}
