//go:build linux || darwin

package benchutil

import (
	"os"
	"runtime"
	"syscall"
)

// PeakRSS is the peak resident memory of an ended process in KiB, and
// whether it could be read: ru_maxrss, which Linux gives in KiB and macOS
// in bytes.
func PeakRSS(ps *os.ProcessState) (int64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, false
	}
	if runtime.GOOS == "darwin" {
		return ru.Maxrss / 1024, true
	}
	return ru.Maxrss, true
}
