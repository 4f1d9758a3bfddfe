package build

import (
	"runtime/debug"
	"testing"
)

func TestStampedValuesWinOverTheBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261203055012-640488a1b2c3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "640488a1b2c3d4e5f60718293a4b5c6d7e8f9012"},
		{Key: "vcs.time", Value: "2026-12-03T05:50:12Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	v, c, d := fromBuildInfo(bi, "v1.2.3", "abc1234", "2026-11-22T00:00:00Z")
	if v != "v1.2.3" || c != "abc1234" || d != "2026-11-22T00:00:00Z" {
		t.Fatalf("a release build's stamps: got %s %s %s", v, c, d)
	}
	v, c, d = fromBuildInfo(bi, "dev", "unknown", "unknown")
	if v != "v0.0.0-20261203055012-640488a1b2c3" || c != "640488a-dirty" || d != "2026-12-03T05:50:12Z" {
		t.Fatalf("a checkout's build info: got %s %s %s", v, c, d)
	}
}

func TestGoInstallOfATagReportsTheTag(t *testing.T) {
	// `go install …@v0.3.0` records the module version and no VCS settings
	bi := &debug.BuildInfo{Main: debug.Module{Version: "v0.3.0"}}
	if v, c, d := fromBuildInfo(bi, "dev", "unknown", "unknown"); v != "v0.3.0" || c != "unknown" || d != "unknown" {
		t.Fatalf("got %s %s %s", v, c, d)
	}
	// a build outside any module version (go run, no VCS): left as is
	bi = &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}
	if v, _, _ := fromBuildInfo(bi, "dev", "unknown", "unknown"); v != "dev" {
		t.Fatalf("(devel) build: got %s", v)
	}
}
