//go:build tools

// Package tools pins the versions of the Go programs the local stack runs.
// It is never built: the blank import only keeps the versitygw module and
// its checksums in this module's go.mod and go.sum, so that
// `go build github.com/versity/versitygw/cmd/versitygw` from this directory
// always builds the same gateway.
package tools

import (
	_ "github.com/versity/versitygw/cmd/versitygw"
)
