//go:build tools

// Package tools pins the versions of the Go programs the local stack runs.
// It is never built: the blank imports only keep the versitygw and AWS
// Lambda Runtime Interface Emulator modules and their checksums in this
// module's go.mod and go.sum, so that
// `go build github.com/versity/versitygw/cmd/versitygw` and
// `go build github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie`
// from this directory always build the same programs.
package tools

import (
	_ "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	_ "github.com/versity/versitygw/cmd/versitygw"
)
