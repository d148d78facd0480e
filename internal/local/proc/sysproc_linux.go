package proc

import "syscall"

// sysProcAttr puts a process in its own process group (so Stop can signal
// everything it started) and has the kernel kill it if this process dies
// without stopping it, e.g. when `go test` times out.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
