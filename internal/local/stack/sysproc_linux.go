package stack

import "syscall"

// sysProcAttr puts a server in its own process group (so Close can signal
// everything it started) and has the kernel kill it if this process dies
// without calling Close, e.g. when `go test` times out.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
