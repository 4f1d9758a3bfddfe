//go:build !linux

package gateway

import "syscall"

// dieWithParent has no portable form off Linux: the helpers' stdin EOF
// and -lifetime stop them instead.
func dieWithParent() *syscall.SysProcAttr { return nil }
