//go:build unix && !linux

package proc

import "syscall"

// sysProcAttr puts a process in its own process group so Stop can signal
// everything it started.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
