// Package build holds what the release build stamps into the binary with
// -ldflags "-X github.com/haderos/haderctl/internal/build.Version=…".
package build

import "runtime"

var (
	// Version is the release version, e.g. v0.3.0; "dev" for local builds.
	Version = "dev"
	// Commit is the git commit the binary was built from.
	Commit = "unknown"
	// Date is the build time in RFC 3339.
	Date = "unknown"
)

// GoVersion is the Go toolchain that built the binary.
func GoVersion() string { return runtime.Version() }
