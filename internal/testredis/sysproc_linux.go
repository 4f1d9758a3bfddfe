package testredis

import "syscall"

// dieWithParent has the kernel kill a server when the test binary dies
// without reaching Main's cleanup (a -timeout panic, SIGKILL), so no
// redis-server outlives its tests.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
