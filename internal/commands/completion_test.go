package commands

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/haderos/haderctl/internal/config"
	"github.com/haderos/haderctl/internal/iostreams"
	"github.com/spf13/cobra"
)

// runOffline runs haderctl in-process with an empty environment: for
// commands that need no Redis.
func runOffline(t *testing.T, env map[string]string, args ...string) (code ExitCode, stdout, stderr string) {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	src := config.Sources{Dir: t.TempDir(), Getenv: func(k string) string { return env[k] }}
	code = Run(context.Background(), io, args, src)
	return code, out.String(), errOut.String()
}

// The scripts in completions/ are what the release archive ships; they
// must be what the binary generates, or users install stale ones.
func TestCompletionFilesAreWhatTheBinaryGenerates(t *testing.T) {
	var want []string
	for _, s := range completionShells {
		want = append(want, s.File)
		code, out, stderr := runOffline(t, nil, "completion", s.Shell)
		if code != 0 || stderr != "" {
			t.Fatalf("completion %s: exit %d, stderr %q", s.Shell, code, stderr)
		}
		if !strings.Contains(out, "__complete") {
			t.Fatalf("completion %s does not ask the binary for choices:\n%s", s.Shell, out)
		}
		file, err := os.ReadFile(filepath.Join("..", "..", "completions", s.File))
		if err != nil {
			t.Fatalf("%v: run scripts/gen-completions.sh", err)
		}
		if string(file) != out {
			t.Errorf("completions/%s differs from `haderctl completion %s`: run scripts/gen-completions.sh", s.File, s.Shell)
		}
	}
	entries, err := os.ReadDir(filepath.Join("..", "..", "completions"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains(want, e.Name()) {
			t.Errorf("completions/%s is no shell's script: remove it (scripts/gen-completions.sh makes %s)", e.Name(), strings.Join(want, ", "))
		}
	}
}

func TestCompletionIsAListedCommand(t *testing.T) {
	code, out, _ := runOffline(t, nil, "--help")
	if code != 0 || !regexp.MustCompile(`(?m)^  completion +Print the shell completion script`).MatchString(out) {
		t.Fatalf("exit %d; help does not list completion:\n%s", code, out)
	}
	_, withDesc, _ := runOffline(t, nil, "completion", "zsh")
	_, noDesc, _ := runOffline(t, nil, "completion", "zsh", "--no-descriptions")
	if !strings.Contains(withDesc, " __complete ") || !strings.Contains(noDesc, " __completeNoDesc ") {
		t.Fatalf("--no-descriptions does not ask for choices without descriptions")
	}
}

// commandTree builds the whole tree as Run does.
func commandTree(t *testing.T) *cobra.Command {
	t.Helper()
	io, _, _, _ := iostreams.Test()
	root, _ := newRoot(io, config.Sources{Dir: t.TempDir(), Getenv: func(string) string { return "" }})
	return root
}

// placeholder is an argument of a Use line that names a thing: NAME,
// QUEUE, ID, SCENARIO (perhaps [NAME...], NAME|GLOB).
var placeholder = regexp.MustCompile(`^\[?([A-Z]+)`)

// Every command whose first argument names a breaker, queue, service,
// scenario or experiment completes it: a command added later without
// completion fails here.
func TestCompletionCoversEveryCommandTakingAName(t *testing.T) {
	root := commandTree(t)
	// NAME of a check not registered yet: nothing to offer.
	newNames := []string{"haderctl health register"}
	walkCommands(root, func(c *cobra.Command) {
		words := strings.Fields(c.Use)
		if len(words) < 2 || c.Hidden || slices.Contains(newNames, c.CommandPath()) {
			return
		}
		m := placeholder.FindStringSubmatch(words[1])
		if m == nil || !slices.Contains([]string{"NAME", "QUEUE", "ID", "SCENARIO", "SERVICE"}, m[1]) {
			return
		}
		if c.ValidArgsFunction == nil {
			t.Errorf("%s takes %s but completes nothing: add it to nameArgs", c.CommandPath(), m[1])
		}
	})
	byPath := map[string]*cobra.Command{}
	walkCommands(root, func(c *cobra.Command) { byPath[c.CommandPath()] = c })
	for _, a := range nameArgs {
		if c := byPath["haderctl "+a.path]; c == nil || c.ValidArgsFunction == nil {
			t.Errorf("nameArgs names %q, which is no command", a.path)
		}
	}
}

// Every --service or --services flag, wherever it is, completes services.
func TestCompletionCoversEveryServiceFlag(t *testing.T) {
	root := commandTree(t)
	seen := 0
	walkCommands(root, func(c *cobra.Command) {
		for _, name := range []string{"service", "services"} {
			if c.LocalNonPersistentFlags().Lookup(name) == nil {
				continue
			}
			seen++
			if _, ok := c.GetFlagCompletionFunc(name); !ok {
				t.Errorf("%s --%s completes nothing: add it to nameFlags", c.CommandPath(), name)
			}
		}
	})
	if seen < len(nameFlags)-1 {
		t.Fatalf("found %d service flags, fewer than nameFlags lists", seen)
	}
	byPath := map[string]*cobra.Command{}
	walkCommands(root, func(c *cobra.Command) { byPath[c.CommandPath()] = c })
	for _, fl := range nameFlags {
		c := byPath[strings.TrimSpace("haderctl "+fl.path)]
		if c == nil {
			t.Errorf("nameFlags names %q, which is no command", fl.path)
			continue
		}
		if _, ok := c.GetFlagCompletionFunc(fl.flag); !ok {
			t.Errorf("%s --%s: no completion registered (is the flag there?)", c.CommandPath(), fl.flag)
		}
	}
}
