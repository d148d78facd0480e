//go:build tools

// Package tools pins tusd, the tus reference server, which `make bench`
// runs beside chunkup's tus dialect on the same S3 server. It is a module
// of its own, apart from tools/go.mod, so that its requirements never move
// the versions versitygw and the Lambda emulator are pinned at.
package tools

import _ "github.com/tus/tusd/v2/cmd/tusd"
