package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestTheReleaseConfigBuildsWhatTheIssueAsks reads .goreleaser.yaml (which
// .ci/run also hands to `goreleaser check`) and checks what a release must
// carry: schema 2, the six targets, -trimpath, version/commit/date through
// ldflags, archives with README, LICENSE, completions and man pages in the
// current `formats` key, checksums, and the hooks that regenerate the
// completions and man pages.
func TestTheReleaseConfigBuildsWhatTheIssueAsks(t *testing.T) {
	raw, err := os.ReadFile("../../.goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Version int `yaml:"version"`
		Before  struct {
			Hooks []string `yaml:"hooks"`
		} `yaml:"before"`
		Archives []map[string]any `yaml:"archives"`
		Checksum struct {
			NameTemplate string `yaml:"name_template"`
		} `yaml:"checksum"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf(".goreleaser.yaml: %v", err)
	}
	if cfg.Version != 2 {
		t.Errorf("version: %d, want goreleaser's schema 2", cfg.Version)
	}

	b := readReleaseBuild(t)
	if b.Main != "./cmd/haderctl" || b.Binary != "haderctl" {
		t.Errorf("build main %q binary %q", b.Main, b.Binary)
	}
	var targets []string
	for _, os := range b.Goos {
		for _, arch := range b.Goarch {
			targets = append(targets, os+"/"+arch)
		}
	}
	slices.Sort(targets)
	want := []string{"darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64", "windows/amd64", "windows/arm64"}
	if !slices.Equal(targets, want) {
		t.Errorf("targets %v, want %v", targets, want)
	}
	if !slices.Contains(b.Flags, "-trimpath") {
		t.Errorf("flags %v lack -trimpath", b.Flags)
	}
	if !slices.Contains(b.Env, "CGO_ENABLED=0") {
		t.Errorf("env %v: a cross-built binary wants CGO_ENABLED=0", b.Env)
	}
	ld := strings.Join(b.Ldflags, " ")
	for _, v := range []string{"Version", "Commit", "Date"} {
		if !strings.Contains(ld, "-X github.com/haderos/haderctl/internal/build."+v+"=") {
			t.Errorf("ldflags %q do not set build.%s", ld, v)
		}
	}

	if len(cfg.Archives) != 1 {
		t.Fatalf("%d archives, want 1", len(cfg.Archives))
	}
	a := cfg.Archives[0]
	if _, old := a["format"]; old {
		t.Errorf("archives use the deprecated `format`; goreleaser v2 wants `formats`")
	}
	if _, ok := a["formats"]; !ok {
		t.Errorf("archives name no `formats`")
	}
	overrides, _ := a["format_overrides"].([]any)
	for _, o := range overrides {
		if m, _ := o.(map[string]any); m != nil {
			if _, old := m["format"]; old {
				t.Errorf("format_overrides use the deprecated `format`")
			}
		}
	}
	var files []string
	list, _ := a["files"].([]any)
	for _, f := range list {
		if s, ok := f.(string); ok {
			files = append(files, s)
		}
	}
	for _, f := range []string{"README.md", "LICENSE", "completions/*", "manpages/*"} {
		if !slices.Contains(files, f) {
			t.Errorf("archives' files %v lack %s", files, f)
		}
	}
	// what the archives take from the tree is there (manpages/ is made by
	// the hook, so it is not)
	for _, f := range []string{"README.md", "LICENSE"} {
		if _, err := os.Stat(filepath.Join("../..", f)); err != nil {
			t.Errorf("the archive's %s: %v", f, err)
		}
	}
	if got, _ := filepath.Glob("../../completions/*"); len(got) != 4 {
		t.Errorf("completions/ holds %d files, want bash, zsh, fish and powershell", len(got))
	}
	if cfg.Checksum.NameTemplate == "" {
		t.Errorf("no checksum file named")
	}

	hooks := strings.Join(cfg.Before.Hooks, "\n")
	if !strings.Contains(hooks, "scripts/gen-completions.sh") {
		t.Errorf("before hooks %q do not regenerate the completions", hooks)
	}
	if _, err := os.Stat("../../scripts/gen-completions.sh"); err != nil {
		t.Errorf("the completions hook's script: %v", err)
	}
	if !strings.Contains(hooks, "./cmd/haderctl man --dir manpages") {
		t.Errorf("before hooks %q do not write the man pages into manpages/", hooks)
	}
}
