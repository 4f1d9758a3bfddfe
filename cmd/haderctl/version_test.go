package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"gopkg.in/yaml.v3"
)

// goreleaserBuild is one entry of .goreleaser.yaml's builds.
type goreleaserBuild struct {
	Main         string   `yaml:"main"`
	Binary       string   `yaml:"binary"`
	Env          []string `yaml:"env"`
	Goos         []string `yaml:"goos"`
	Goarch       []string `yaml:"goarch"`
	Flags        []string `yaml:"flags"`
	Ldflags      []string `yaml:"ldflags"`
	ModTimestamp string   `yaml:"mod_timestamp"`
}

func readReleaseBuild(t *testing.T) goreleaserBuild {
	t.Helper()
	raw, err := os.ReadFile("../../.goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Builds []goreleaserBuild `yaml:"builds"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf(".goreleaser.yaml: %v", err)
	}
	if len(cfg.Builds) != 1 {
		t.Fatalf(".goreleaser.yaml has %d builds, want the one of haderctl", len(cfg.Builds))
	}
	return cfg.Builds[0]
}

func versionJSON(t *testing.T, bin string) map[string]string {
	t.Helper()
	out, err := exec.Command(bin, "version", "-o", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAReleaseBuildShowsItsVersion builds the binary with the flags and
// ldflags .goreleaser.yaml gives, its templates filled as goreleaser fills
// them for the tag v9.8.7, and checks `version -o json` reports them.
func TestAReleaseBuildShowsItsVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	b := readReleaseBuild(t)
	tmpl, err := template.New("ldflags").Option("missingkey=error").Parse(strings.Join(b.Ldflags, " "))
	if err != nil {
		t.Fatalf("ldflags: %v", err)
	}
	var ldflags bytes.Buffer
	fields := map[string]string{"Version": "9.8.7", "ShortCommit": "abc1234", "CommitDate": "2026-11-22T00:00:00Z"}
	if err := tmpl.Execute(&ldflags, fields); err != nil {
		t.Fatalf("ldflags use a template field this test does not fill: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "haderctl")
	args := append(append([]string{"build"}, b.Flags...), "-ldflags", ldflags.String(), "-o", bin, ".")
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), b.Env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	v := versionJSON(t, bin)
	if v["version"] != "v9.8.7" || v["commit"] != "abc1234" || v["build_date"] != "2026-11-22T00:00:00Z" || v["go_version"] == "" {
		t.Fatalf("version -o json of a release build: %v", v)
	}
}

// TestAPlainBuildShowsWhatTheToolchainRecorded builds with no ldflags (as
// `go install ./cmd/haderctl` does) and checks `version` reports the module
// version and commit `go version -m` reads from the same binary.
func TestAPlainBuildShowsWhatTheToolchainRecorded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "haderctl")
	// in a git checkout, stamp it whatever GOFLAGS says (this machine sets
	// -buildvcs=false), so the commit path is taken; a source tree without
	// git builds unstamped and reports "dev"
	args := []string{"build", "-o", bin, "."}
	head, gitErr := exec.Command("git", "rev-parse", "HEAD").Output()
	if gitErr == nil {
		args = []string{"build", "-buildvcs=true", "-o", bin, "."}
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	wantVersion, wantCommit, wantDate := "dev", "unknown", "unknown"
	dirty := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/haderos/haderctl" && f[2] != "(devel)":
			wantVersion = f[2]
		case len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision="):
			wantCommit = strings.TrimPrefix(f[1], "vcs.revision=")[:7]
		case len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.time="):
			wantDate = strings.TrimPrefix(f[1], "vcs.time=")
		case len(f) == 2 && f[0] == "build" && f[1] == "vcs.modified=true":
			dirty = true
		}
	}
	if dirty && wantCommit != "unknown" {
		wantCommit += "-dirty"
	}
	if gitErr == nil && !strings.HasPrefix(wantCommit, string(head[:7])) {
		t.Fatalf("go version -m records commit %s, the checkout is at %s", wantCommit, head)
	}
	v := versionJSON(t, bin)
	if v["version"] != wantVersion || v["commit"] != wantCommit || v["build_date"] != wantDate {
		t.Fatalf("version -o json %v; go version -m says version %s commit %s date %s\n%s", v, wantVersion, wantCommit, wantDate, out)
	}
}
