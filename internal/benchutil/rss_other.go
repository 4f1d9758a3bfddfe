//go:build !linux && !darwin

package benchutil

import "os"

// PeakRSS is not measured on this platform.
func PeakRSS(*os.ProcessState) (int64, bool) { return 0, false }
