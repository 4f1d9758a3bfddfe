package gateway

import "syscall"

// dieWithParent makes the kernel kill a child when the benchmark dies,
// even by SIGKILL, where no Cleanup runs.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
