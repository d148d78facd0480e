//go:build unix && !linux

package stack

import "syscall"

// sysProcAttr puts a server in its own process group so Close can signal
// everything it started.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
