package benchutil

import (
	"os"
	"syscall"
)

// PeakRSS is the peak resident memory of an ended process in KiB (Linux's
// ru_maxrss unit), and whether it could be read.
func PeakRSS(ps *os.ProcessState) (int64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, false
	}
	return ru.Maxrss, true
}
