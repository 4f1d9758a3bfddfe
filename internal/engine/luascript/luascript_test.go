package luascript_test

import (
	"crypto/sha1"
	"encoding/hex"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/haderos/haderctl/internal/engine/luascript"
	"github.com/haderos/haderctl/internal/engine/store"
)

func TestSourceIsThePreludesBytesThenTheScripts(t *testing.T) {
	pre := "--- lua/prelude.lua\n--- KEYS: none\nlocal X = 1\n"
	own := "--- lua/s.lua\n--- prelude: prelude.lua\n--- reply: X\nreturn X\n"
	fsys := fstest.MapFS{"lua/prelude.lua": {Data: []byte(pre)}, "lua/s.lua": {Data: []byte(own)}}
	got, err := luascript.Source(fsys, "lua/s.lua")
	if err != nil {
		t.Fatal(err)
	}
	if got != pre+own {
		t.Fatalf("Source = %q, want the prelude's bytes then the script's: %q", got, pre+own)
	}
	sum := sha1.Sum([]byte(pre + own))
	if h := luascript.Load(fsys, "s.lua").Hash(); h != hex.EncodeToString(sum[:]) {
		t.Fatalf("Load's hash %s is not the SHA-1 of prelude+script", h)
	}
}

func TestSourceWithoutPreludeIsTheFileAlone(t *testing.T) {
	own := "--- lua/s.lua\n--- KEYS: none\n-- prelude: x.lua is prose here\nreturn 1\n"
	got, err := luascript.Source(fstest.MapFS{"lua/s.lua": {Data: []byte(own)}}, "lua/s.lua")
	if err != nil || got != own {
		t.Fatalf("Source = %q, %v; want the file's bytes %q", got, err, own)
	}
}

func TestSourceNamesAMissingPrelude(t *testing.T) {
	fsys := fstest.MapFS{"lua/s.lua": {Data: []byte("--- lua/s.lua\n--- prelude: gone.lua\nreturn 1\n")}}
	_, err := luascript.Source(fsys, "lua/s.lua")
	if err == nil || !strings.Contains(err.Error(), "lua/s.lua names prelude gone.lua") {
		t.Fatalf("Source with a missing prelude: %v, want an error naming the script and the prelude", err)
	}
	if _, err := luascript.Source(fsys, "lua/none.lua"); err == nil || !strings.Contains(err.Error(), "none.lua") {
		t.Fatalf("Source of a missing file: %v, want an error naming it", err)
	}
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("Load with a missing prelude did not panic")
		}
	}()
	luascript.Load(fsys, "s.lua")
}

func TestPreludeIsReadOnlyFromTheHeader(t *testing.T) {
	for _, c := range []struct {
		text, want string
		ok         bool
	}{
		{"--- a.lua\n--- prelude: p.lua\nreturn 1", "p.lua", true},
		{"--- a.lua\n--- KEYS[1] k\n--- prelude:  p.lua \nreturn 1", "p.lua", true},
		{"--- a.lua\n-- prose\n--- prelude: p.lua\n", "", false},
		{"--- a.lua\nreturn 1 --- prelude: p.lua\n", "", false},
		{"", "", false},
	} {
		got, ok := luascript.Prelude(c.text)
		if got != c.want || ok != c.ok {
			t.Errorf("Prelude(%q) = %q, %v; want %q, %v", c.text, got, ok, c.want, c.ok)
		}
	}
}

// span is the indices one header line documents: from..to, or from and
// every one after it when open.
type span struct {
	from, to int
	open     bool
	text     string // the rest of the line
}

// header is a script file's "---" lines, parsed.
type header struct {
	path, prelude      string
	keys, argv         []span
	keysNone, argvNone bool
	reply              bool
	// replyText is the reply line's text and its continuations.
	replyText string
}

var (
	entryLine = regexp.MustCompile(`^--- (KEYS|ARGV)\[(\d+)(\.\.(\d*))?\] (\S.*)$`)
	noneLine  = regexp.MustCompile(`^--- (KEYS|ARGV): none\b`)
)

// parseHeader reads the leading "---" lines of a script's text; a line
// that starts like an entry but does not parse as one is an error.
func parseHeader(text string) (header, []string) {
	var h header
	var bad []string
	lines := strings.Split(text, "\n")
	h.path, _ = strings.CutPrefix(lines[0], "--- ")
	inReply := false
	for i, line := range lines[1:] {
		if !strings.HasPrefix(line, "---") {
			break
		}
		if inReply && strings.HasPrefix(line, "---   ") {
			h.replyText += " " + strings.TrimSpace(strings.TrimPrefix(line, "---"))
			continue
		}
		inReply = false
		switch {
		case i == 0 && strings.HasPrefix(line, "--- prelude: "):
			h.prelude = strings.TrimSpace(strings.TrimPrefix(line, "--- prelude: "))
		case strings.HasPrefix(line, "--- prelude:"):
			bad = append(bad, "the prelude line must come right after the path: "+line)
		case noneLine.MatchString(line):
			if strings.HasPrefix(line, "--- KEYS") {
				h.keysNone = true
			} else {
				h.argvNone = true
			}
		case entryLine.MatchString(line):
			m := entryLine.FindStringSubmatch(line)
			s := span{text: m[5]}
			s.from, _ = strconv.Atoi(m[2])
			s.to = s.from
			if m[3] != "" {
				if m[4] == "" {
					s.open = true
				} else {
					s.to, _ = strconv.Atoi(m[4])
				}
			}
			if m[1] == "KEYS" {
				h.keys = append(h.keys, s)
			} else {
				h.argv = append(h.argv, s)
			}
		case strings.HasPrefix(line, "--- KEYS"), strings.HasPrefix(line, "--- ARGV"):
			bad = append(bad, "not a KEYS/ARGV line (want \"--- KEYS[n] ...\", \"[n..m]\", \"[n..]\" or \": none\"): "+line)
		case strings.HasPrefix(line, "--- reply: "):
			h.reply, inReply = true, true
			h.replyText = strings.TrimPrefix(line, "--- reply: ")
		case strings.HasPrefix(line, "---   "), strings.HasPrefix(line, "--- "):
			// a continuation, or another labelled line (errors, verdicts...)
		default:
			bad = append(bad, "a header line must start with \"--- \": "+line)
		}
	}
	return h, bad
}

// fixed is how many leading indices the spans document, and whether a
// variable-length tail follows them.
func fixed(spans []span) (n int, open bool) {
	for _, s := range spans {
		if s.open {
			return s.from - 1, true
		}
		n = max(n, s.to)
	}
	return n, false
}

// covers reports whether index i is documented by one of the spans.
func covers(spans []span, i int) bool {
	for _, s := range spans {
		if i >= s.from && (s.open || i <= s.to) {
			return true
		}
	}
	return false
}

// checkSpans wants the spans in order, from 1, without gaps or overlaps,
// with at most an open one at the end.
func checkSpans(what string, spans []span) []string {
	var bad []string
	next := 1
	for i, s := range spans {
		switch {
		case s.from != next:
			bad = append(bad, what+"["+strconv.Itoa(s.from)+"] out of order or leaving a gap (want "+what+"["+strconv.Itoa(next)+"] next)")
		case !s.open && s.to < s.from:
			bad = append(bad, what+"["+strconv.Itoa(s.from)+".."+strconv.Itoa(s.to)+"] is an empty range")
		case s.open && i != len(spans)-1:
			bad = append(bad, what+"["+strconv.Itoa(s.from)+"..] must be the last "+what+" line")
		}
		next = s.to + 1
	}
	return bad
}

var (
	literalIndex = regexp.MustCompile(`\b(KEYS|ARGV)\[(\d+)\]`)
	dynamicKeys  = regexp.MustCompile(`#KEYS\b|\bKEYS\[[^\]0-9]|(ipairs|unpack)\(KEYS\b`)
	dynamicArgv  = regexp.MustCompile(`#ARGV\b|(ipairs|unpack)\(ARGV\b`)
)

// code is a script's text without its whole-line comments.
func code(text string) string {
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// repoRoot is the module's root directory (where go.mod is).
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = up
	}
}

// scriptFiles are the repository paths of every internal/engine/**/lua/*.lua.
func scriptFiles(t testing.TB, repo fs.FS) []string {
	t.Helper()
	var files []string
	err := fs.WalkDir(repo, "internal/engine", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".lua") && path.Base(path.Dir(p)) == luascript.Dir {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d script files under internal/engine: %v", len(files), files)
	}
	return files
}

// keyPatterns are the key patterns of store/keys.go: each builder called
// with a placeholder, as a regexp a header's "<ns>:breaker:{name}" or
// "<ns>:{chaos}:exp:<id>" matches.
func keyPatterns(t *testing.T) []*regexp.Regexp {
	const ph = "\x00"
	k := reflect.ValueOf(store.Keys{Namespace: "<ns>"})
	str := reflect.TypeOf("")
	var out []*regexp.Regexp
	for i := 0; i < k.NumMethod(); i++ {
		m := k.Method(i)
		mt := m.Type()
		if mt.NumOut() != 1 || mt.Out(0) != str {
			continue
		}
		var key string
		switch {
		case mt.NumIn() == 0:
			key = m.Call(nil)[0].String()
		case mt.NumIn() == 1 && mt.In(0) == str:
			key = m.Call([]reflect.Value{reflect.ValueOf(ph)})[0].String()
		default:
			continue
		}
		re := strings.ReplaceAll(regexp.QuoteMeta(key), ph, `(?:[a-z]+|<[a-z]+>)`)
		out = append(out, regexp.MustCompile("^"+re+"$"))
	}
	if len(out) < 25 {
		t.Fatalf("only %d key builders found in store.Keys", len(out))
	}
	return out
}

// notInKeysGo are keys a script takes that store.Keys has no builder for,
// and the Go file (with the text) that builds each.
var notInKeysGo = map[string][2]string{
	"<ns>:schema:upgrading":     {"internal/engine/queue/upgrade.go", `c.keys.Schema()+":upgrading"`},
	"<ns>:queue:{name}:ctl":     {"internal/engine/queue/upgrade.go", `c.keys.Queue(q) + ":ctl"`},
	"<ns>:queue:{name}:op:<id>": {"internal/engine/queue/upgrade.go", `c.keys.Queue(q)+":op:"+ids[i]`},
}

// loads are the script files named by luascript.Load calls in the
// engine's Go source (tests excluded), as repository paths.
func loads(t *testing.T, repo fs.FS, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	fset := token.NewFileSet()
	err := fs.WalkDir(repo, "internal", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, filepath.Join(root, p), nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Load" || len(call.Args) != 2 {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "luascript" {
				return true
			}
			lit, ok := call.Args[1].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: luascript.Load with a file name that is not a constant", fset.Position(call.Pos()))
				return true
			}
			name, _ := strconv.Unquote(lit.Value)
			out[path.Join(path.Dir(p), luascript.Dir, name)] = fset.Position(call.Pos()).String()
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEveryScriptFileHasItsHeader holds every engine .lua file to the
// header rules of the package comment, so another language can call a
// script from its header alone.
func TestEveryScriptFileHasItsHeader(t *testing.T) {
	root := repoRoot(t)
	repo := os.DirFS(root)
	files := scriptFiles(t, repo)
	patterns := keyPatterns(t)
	text := map[string]string{}
	for _, p := range files {
		b, err := fs.ReadFile(repo, p)
		if err != nil {
			t.Fatal(err)
		}
		text[p] = string(b)
	}
	preludes := map[string]bool{}
	for _, p := range files {
		if h, _ := parseHeader(text[p]); h.prelude != "" {
			preludes[path.Join(path.Dir(p), h.prelude)] = true
		}
	}
	for _, p := range files {
		t.Run(p, func(t *testing.T) {
			h, bad := parseHeader(text[p])
			for _, b := range bad {
				t.Error(b)
			}
			if first, _, _ := strings.Cut(text[p], "\n"); first != "--- "+p {
				t.Errorf("first line %q, want %q", first, "--- "+p)
			}
			all := text[p]
			if h.prelude != "" {
				pp := path.Join(path.Dir(p), h.prelude)
				pre, ok := text[pp]
				if !ok {
					t.Fatalf("names prelude %s, which is not a file beside it", h.prelude)
				}
				if ph, _ := parseHeader(pre); ph.prelude != "" {
					t.Errorf("its prelude %s names a prelude of its own", h.prelude)
				}
				all = pre + all
			}
			if len(h.keys) == 0 && !h.keysNone {
				t.Error(`no "--- KEYS[n]" lines and no "--- KEYS: none"`)
			}
			if len(h.argv) == 0 && !h.argvNone {
				t.Error(`no "--- ARGV[n]" lines and no "--- ARGV: none"`)
			}
			if (len(h.keys) > 0 && h.keysNone) || (len(h.argv) > 0 && h.argvNone) {
				t.Error(`both KEYS/ARGV lines and ": none"`)
			}
			if !preludes[p] && !h.reply {
				t.Error(`no "--- reply: " line`)
			}
			for _, b := range append(checkSpans("KEYS", h.keys), checkSpans("ARGV", h.argv)...) {
				t.Error(b)
			}
			src := code(all)
			for _, m := range literalIndex.FindAllStringSubmatch(src, -1) {
				i, _ := strconv.Atoi(m[2])
				spans := h.keys
				if m[1] == "ARGV" {
					spans = h.argv
				}
				if !covers(spans, i) {
					t.Errorf("the script (with its prelude) reads %s[%d], which its header does not list", m[1], i)
				}
			}
			if _, open := fixed(h.keys); dynamicKeys.MatchString(src) && !open {
				t.Errorf(`the script indexes KEYS by a variable, but its header has no "--- KEYS[n..]" line`)
			}
			if _, open := fixed(h.argv); dynamicArgv.MatchString(src) && !open {
				t.Errorf(`the script reads a variable number of ARGV, but its header has no "--- ARGV[n..]" line`)
			}
			for _, s := range h.keys {
				pat, _, _ := strings.Cut(s.text, " ")
				known := slices.ContainsFunc(patterns, func(re *regexp.Regexp) bool { return re.MatchString(pat) })
				if src, ok := notInKeysGo[pat]; ok {
					b, err := fs.ReadFile(repo, src[0])
					known = err == nil && strings.Contains(string(b), src[1])
				}
				if !known {
					t.Errorf("KEYS[%d] pattern %q is not one of internal/engine/store/keys.go's", s.from, pat)
				}
			}
		})
	}
	loaded := loads(t, repo, root)
	for _, p := range files {
		if _, ok := loaded[p]; !ok && !preludes[p] {
			t.Errorf("%s is loaded by no luascript.Load call in the engine", p)
		}
		if _, ok := loaded[p]; ok && preludes[p] {
			t.Errorf("%s is a prelude but is loaded as a script", p)
		}
	}
	for p, at := range loaded {
		if _, ok := text[p]; !ok {
			t.Errorf("%s: luascript.Load names %s, which does not exist", at, p)
		}
	}
}
