package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestVersionIsStampedThroughLdflags builds the binary the way a release
// does and checks `version -o json` reports what -X set.
func TestVersionIsStampedThroughLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "haderctl")
	const pkg = "github.com/haderos/haderctl/internal/build"
	ldflags := "-X " + pkg + ".Version=v9.8.7 -X " + pkg + ".Commit=abc1234 -X " + pkg + ".Date=2026-11-22T00:00:00Z"
	if out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version", "-o", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	if v["version"] != "v9.8.7" || v["commit"] != "abc1234" || v["build_date"] != "2026-11-22T00:00:00Z" || v["go_version"] == "" {
		t.Fatalf("version -o json: %v", v)
	}
}
