package benchutil

import (
	"os"
	"syscall"
)

// PeakRSS is the peak resident memory of an ended process in KiB (macOS
// gives ru_maxrss in bytes), and whether it could be read.
func PeakRSS(ps *os.ProcessState) (int64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, false
	}
	return ru.Maxrss / 1024, true
}
