//go:build unix

package gateway

import (
	"errors"
	"net"
	"syscall"
)

// connAlive peeks at an idle connection without blocking: a server that
// closed it has sent EOF (or reset it); an open one has nothing to say.
func connAlive(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := true
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(rerr, syscall.EAGAIN), errors.Is(rerr, syscall.EINTR):
		case rerr != nil, n == 0:
			alive = false // closed or reset
		default:
			alive = false // bytes nobody asked for: not a clean connection
		}
		return true // never wait for readiness
	})
	return err == nil && alive
}
