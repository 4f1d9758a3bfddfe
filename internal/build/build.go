// Package build holds what the release build stamps into the binary with
// -ldflags "-X github.com/haderos/haderctl/internal/build.Version=…" (see
// .goreleaser.yaml), and what the Go toolchain recorded when it did not.
package build

import (
	"runtime"
	"runtime/debug"
)

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

// Info is the version, commit and date a binary reports: what the release
// build stamped, each one it did not from the Go toolchain's build info.
// `go install github.com/haderos/haderctl/cmd/haderctl@v0.3.0` records
// v0.3.0; a build in a git checkout records a pseudo-version, the commit
// (marked -dirty when the tree had changes) and the commit's time.
func Info() (version, commit, date string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Version, Commit, Date
	}
	return fromBuildInfo(bi, Version, Commit, Date)
}

func fromBuildInfo(bi *debug.BuildInfo, version, commit, date string) (string, string, string) {
	if version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	var rev, at string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if commit == "unknown" && rev != "" {
		commit = rev[:min(len(rev), 7)]
		if dirty {
			commit += "-dirty"
		}
	}
	if date == "unknown" && at != "" {
		date = at
	}
	return version, commit, date
}
