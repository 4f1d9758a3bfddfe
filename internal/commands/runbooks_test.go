package commands

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The runbooks in docs/runbooks are followed at 3 a.m. by someone pasting
// their commands: a command or flag that does not exist there fails here,
// checked against the same command tree Run builds.

const runbookDir = "../../docs/runbooks"

// incidentRunbooks are the runbooks issue 15 names; each must exist and
// carry commands.
var incidentRunbooks = []string{"breaker-open.md", "queue-backlog.md", "service-down.md", "gameday-ci.md"}

func TestRunbookCommandsExist(t *testing.T) {
	root := commandTree(t)
	root.InitDefaultHelpCmd()
	files, err := filepath.Glob(filepath.Join(runbookDir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	perFile := map[string]int{}
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range runbookCommandLines(string(doc)) {
			perFile[filepath.Base(f)]++
			if err := checkCommandLine(root, l.words); err != nil {
				t.Errorf("%s:%d: %s\n\t%v", strings.TrimPrefix(filepath.ToSlash(f), "../../"), l.line, l.text, err)
			}
		}
	}
	t.Logf("haderctl commands checked per runbook: %v", perFile)
	for _, name := range incidentRunbooks {
		// Five is the "first five minutes" alone; fewer means the
		// extraction missed the runbook's code blocks.
		if perFile[name] < 5 {
			t.Errorf("docs/runbooks/%s: %d haderctl commands found in its sh/yaml blocks, want at least 5", name, perFile[name])
		}
	}
}

// TestRunbookCheckerRefusesWhatDoesNotExist keeps the checker honest: a
// checker that accepts anything would let every runbook pass.
func TestRunbookCheckerRefusesWhatDoesNotExist(t *testing.T) {
	root := commandTree(t)
	root.InitDefaultHelpCmd()
	for _, c := range []struct {
		line, wantErr string
	}{
		{"haderctl breaker status shopify --fail-on-open", ""},
		{"haderctl -o json breaker status", ""},
		{"haderctl queue list orders --state=dead --limit 20", ""},
		{"haderctl queue purge orders --dead -y", ""},
		{"haderctl breaker events -f", ""},
		{"haderctl breaker exec shopify --timeout 30s -- curl --no-such-flag x", ""},
		{"haderctl chaos run network_storm --time-scale 0.05 --wait --junit report.xml", ""},
		{"haderctl help exit-codes", ""},
		{"haderctl breaker status --no-such-flag", `unknown flag --no-such-flag for "haderctl breaker status"`},
		{"haderctl breaker status -Z", `unknown flag -Z for "haderctl breaker status"`},
		{"haderctl queue retry orders --all-dead --dead", `unknown flag --dead for "haderctl queue retry"`},
		{"haderctl breaker open shopify", `unknown command "open" for "haderctl breaker"`},
		{"haderctl brekaer status", `unknown command "brekaer" for "haderctl"`},
		{"haderctl breaker", `"haderctl breaker" needs one of its commands`},
		{"haderctl queue list orders --limit", `flag --limit for "haderctl queue list" needs a value`},
		{"haderctl queue status -o", `flag -o for "haderctl queue status" needs a value`},
	} {
		lines := runbookCommandLines("```sh\n" + c.line + "\n```\n")
		if len(lines) != 1 {
			t.Fatalf("%q: extracted %d command lines, want 1", c.line, len(lines))
		}
		err := checkCommandLine(root, lines[0].words)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%q: %v", c.line, err)
		case c.wantErr != "" && (err == nil || err.Error() != c.wantErr):
			t.Errorf("%q: error %v, want %s", c.line, err, c.wantErr)
		}
	}
}

func TestRunbookCommandLinesFindsEveryInvocation(t *testing.T) {
	doc := "Prose mentioning `haderctl nope` is not a command.\n" +
		"```sh\n" +
		"# a comment: haderctl nope\n" +
		"haderctl breaker status shopify   # trailing comment --nope\n" +
		"haderctl breaker configure shopify --recovery-timeout 30s \\\n" +
		"  --reason \"INC-240: a # is not a comment in quotes | nor a pipe\"\n" +
		"HADERCTL_ENV=staging haderctl chaos agent --service shopify &\n" +
		"curl -fsS https://shop.example.invalid/health && haderctl breaker record shopify success \\\n" +
		"  || haderctl breaker record shopify failure\n" +
		"haderctl breaker events --follow | jq -r 'select(.to==\"open\") | .name' 2>/dev/null\n" +
		"if ! haderctl health check shopify >/dev/null 2>&1; then echo down; fi\n" +
		"```\n" +
		"```text\n" +
		"$ haderctl output --is-not-checked\n" +
		"```\n" +
		"- a list item:\n" +
		"  ```yaml\n" +
		"  - run: haderctl chaos enable\n" +
		"  - run: |\n" +
		"      ./bin/haderctl chaos status\n" +
		"  ```\n"
	want := []string{
		"haderctl breaker status shopify",
		"haderctl breaker configure shopify --recovery-timeout 30s --reason INC-240: a # is not a comment in quotes | nor a pipe",
		"haderctl chaos agent --service shopify",
		"haderctl breaker record shopify success",
		"haderctl breaker record shopify failure",
		"haderctl breaker events --follow",
		"haderctl health check shopify",
		"haderctl chaos enable",
		"./bin/haderctl chaos status",
	}
	var got []string
	for _, l := range runbookCommandLines(doc) {
		got = append(got, strings.Join(l.words, " "))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("extracted:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Links to runbooks from the README and docs must land on a file, since
// runbooks were renamed once (breakers.md → breaker-open.md).
func TestRunbookLinksResolve(t *testing.T) {
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	runbooks, err := filepath.Glob(filepath.Join(runbookDir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	repoPath := regexp.MustCompile(`docs/runbooks/[A-Za-z0-9_-]+\.md`)
	relative := regexp.MustCompile(`\]\(([A-Za-z0-9_-]+\.md)(#[^)]*)?\)`)
	found := 0
	for _, f := range append(append([]string{"../../README.md"}, docs...), runbooks...) {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		targets := repoPath.FindAllString(string(doc), -1)
		for i := range targets {
			targets[i] = filepath.Join("../..", targets[i])
		}
		if filepath.Dir(f) == filepath.Clean(runbookDir) {
			for _, m := range relative.FindAllStringSubmatch(string(doc), -1) {
				targets = append(targets, filepath.Join(runbookDir, m[1]))
			}
		}
		for _, target := range targets {
			found++
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s links to %s, which does not exist", strings.TrimPrefix(filepath.ToSlash(f), "../../"), strings.TrimPrefix(filepath.ToSlash(target), "../../"))
			}
		}
	}
	if found == 0 {
		t.Fatal("no links to runbooks found: the patterns no longer match the docs")
	}
}

type commandLine struct {
	line  int      // 1-based line of the doc where the command starts
	text  string   // the shell text it came from
	words []string // haderctl and its arguments, quotes removed
}

var fence = regexp.MustCompile("^\\s*(```+)\\s*([A-Za-z0-9_-]*)")

// runbookCommandLines finds every haderctl invocation in the doc's sh,
// bash, shell and yaml code blocks (in yaml, the shell of run: steps).
// Continued lines are joined; pipes, &&, ||, ; and & separate commands;
// leading VAR=value assignments and redirections are dropped.
func runbookCommandLines(doc string) []commandLine {
	var out []commandLine
	lines := strings.Split(doc, "\n")
	for i := 0; i < len(lines); i++ {
		m := fence.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		lang, open := m[2], m[1]
		shell := lang == "sh" || lang == "bash" || lang == "shell"
		yaml := lang == "yaml" || lang == "yml"
		for i++; i < len(lines); i++ {
			if strings.HasPrefix(strings.TrimSpace(lines[i]), open) {
				break
			}
			if !shell && !yaml {
				continue
			}
			start := i
			text := strings.TrimSpace(lines[i])
			for strings.HasSuffix(text, "\\") && i+1 < len(lines) {
				i++
				text = strings.TrimSuffix(text, "\\") + " " + strings.TrimSpace(lines[i])
			}
			if yaml {
				text = strings.TrimPrefix(text, "- ")
				text = strings.TrimSpace(strings.TrimPrefix(text, "run:"))
			}
			for _, words := range shellCommands(text) {
				if isHaderctl(words[0]) {
					out = append(out, commandLine{line: start + 1, text: text, words: words})
				}
			}
		}
	}
	return out
}

func isHaderctl(word string) bool {
	return word == "haderctl" || strings.HasSuffix(word, "/haderctl")
}

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// shellCommands splits one line of shell into its simple commands, each
// its words with quotes removed. It knows what the runbooks use: quotes,
// backslash escapes, comments, | || && ; & ( ), redirections.
func shellCommands(text string) [][]string {
	var cmds [][]string
	var cur []string
	var word strings.Builder
	inWord, skipNext := false, false
	endWord := func() {
		if !inWord {
			return
		}
		if skipNext {
			skipNext = false
		} else {
			cur = append(cur, word.String())
		}
		word.Reset()
		inWord = false
	}
	endCmd := func() {
		endWord()
		for len(cur) > 0 && (assignment.MatchString(cur[0]) || cur[0] == "!" ||
			cur[0] == "if" || cur[0] == "then" || cur[0] == "do" || cur[0] == "else" || cur[0] == "while" || cur[0] == "until") {
			cur = cur[1:]
		}
		if len(cur) > 0 {
			cmds = append(cmds, cur)
		}
		cur = nil
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\'':
			inWord = true
			end := strings.IndexByte(text[i+1:], '\'')
			if end < 0 {
				end = len(text) - i - 1
			}
			word.WriteString(text[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			inWord = true
			for i++; i < len(text) && text[i] != '"'; i++ {
				if text[i] == '\\' && i+1 < len(text) {
					i++
				}
				word.WriteByte(text[i])
			}
		case c == '\\' && i+1 < len(text):
			inWord = true
			i++
			word.WriteByte(text[i])
		case c == '#' && !inWord:
			endCmd()
			return cmds
		case c == ' ' || c == '\t':
			endWord()
		case c == '|' || c == ';' || c == '&' || c == '(' || c == ')':
			endCmd()
		case c == '>' || c == '<':
			// 2>/dev/null, >&2, >> log: the fd number and the target
			// are not arguments.
			if inWord && strings.Trim(word.String(), "0123456789") == "" {
				word.Reset()
				inWord = false
			}
			endWord()
			for i+1 < len(text) && strings.IndexByte("<>&0123456789", text[i+1]) >= 0 {
				i++
			}
			if text[i] < '0' || text[i] > '9' {
				skipNext = true
			}
		default:
			inWord = true
			word.WriteByte(c)
		}
	}
	endCmd()
	return cmds
}

// checkCommandLine walks words (haderctl first) down the command tree as
// cobra does and checks that the command exists and takes every flag
// given, with a value where the flag needs one. After "--" the words are
// another program's (breaker exec). A command with subcommands only groups
// them (groupRun): a word that is none of them is an unknown command.
func checkCommandLine(root *cobra.Command, words []string) error {
	cmd := root
	positional := false
	for i := 1; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--":
			i = len(words)
		case strings.HasPrefix(w, "--"):
			name, _, inline := strings.Cut(w[2:], "=")
			f := lookupFlag(cmd, name)
			if f == nil {
				return fmt.Errorf("unknown flag --%s for %q", name, cmd.CommandPath())
			}
			if !inline && f.NoOptDefVal == "" {
				if i++; i >= len(words) {
					return fmt.Errorf("flag --%s for %q needs a value", name, cmd.CommandPath())
				}
			}
		case strings.HasPrefix(w, "-") && len(w) > 1:
			// -o json, -oj, -fy: shorthands, the last perhaps with its value.
			for j := 1; j < len(w); j++ {
				f := lookupShorthand(cmd, w[j:j+1])
				if f == nil {
					return fmt.Errorf("unknown flag -%s for %q", w[j:j+1], cmd.CommandPath())
				}
				if f.NoOptDefVal != "" {
					continue
				}
				if j == len(w)-1 {
					if i++; i >= len(words) {
						return fmt.Errorf("flag -%s for %q needs a value", w[j:j+1], cmd.CommandPath())
					}
				}
				break
			}
		case !positional:
			if sub := findSubcommand(cmd, w); sub != nil {
				cmd = sub
				continue
			}
			if cmd.HasSubCommands() {
				return fmt.Errorf("unknown command %q for %q", w, cmd.CommandPath())
			}
			positional = true
		}
	}
	// A group (breaker, queue, …) alone prints its help: no runbook step.
	if cmd.HasSubCommands() {
		return fmt.Errorf("%q needs one of its commands", cmd.CommandPath())
	}
	return nil
}

func findSubcommand(cmd *cobra.Command, name string) *cobra.Command {
	for _, sub := range cmd.Commands() {
		if sub.Name() == name || sub.HasAlias(name) {
			return sub
		}
	}
	return nil
}

// helpFlag is what cobra adds to every command when it runs.
var helpFlag = &pflag.Flag{Name: "help", Shorthand: "h", NoOptDefVal: "true"}

func lookupFlag(cmd *cobra.Command, name string) *pflag.Flag {
	if name == "help" {
		return helpFlag
	}
	return lookupIn(cmd, func(fs *pflag.FlagSet) *pflag.Flag { return fs.Lookup(name) })
}

func lookupShorthand(cmd *cobra.Command, s string) *pflag.Flag {
	if s == "h" {
		return helpFlag
	}
	return lookupIn(cmd, func(fs *pflag.FlagSet) *pflag.Flag { return fs.ShorthandLookup(s) })
}

// lookupIn finds a flag in the command's own, persistent and inherited sets.
func lookupIn(cmd *cobra.Command, find func(*pflag.FlagSet) *pflag.Flag) *pflag.Flag {
	for _, fs := range []*pflag.FlagSet{cmd.Flags(), cmd.PersistentFlags(), cmd.InheritedFlags()} {
		if f := find(fs); f != nil {
			return f
		}
	}
	return nil
}
