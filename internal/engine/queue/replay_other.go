//go:build !unix

package queue

import "os/exec"

// ownProcessGroup is a no-op where there are no process groups: cancelling
// kills the command itself, and WaitDelay bounds waiting for its children.
func ownProcessGroup(cmd *exec.Cmd) {}
