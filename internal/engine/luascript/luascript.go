// Package luascript loads the engine's Redis scripts from their .lua files,
// one file per script, kept beside each part (internal/engine/<part>/lua/)
// and embedded with go:embed. A service in another language runs the very
// same files (docs/redis-schema.md, "The scripts").
//
// Each file starts with a header of "---" lines, the reference for calling
// it (luascript_test.go checks every file against these rules):
//
//	--- internal/engine/<part>/lua/<file>.lua      its path in the repository
//	--- prelude: prelude.lua                       only for a script built on shared code
//	--- KEYS[1] <ns>:breaker:{name}  what it is    one line per key, the pattern of
//	                                               internal/engine/store/keys.go
//	--- KEYS[3..] <pattern>  ...                   a variable-length tail
//	--- ARGV[1] what it is, units, what "" means   one line per argument
//	--- ARGV[11..15] ...                           a run of arguments on one line
//	--- ARGV[3..] per operation: ...               a variable-length tail
//	--- reply: ...                                 each position named
//	--- errors: ..., verdicts: ..., also: ...      when there is something to say
//
// "--- KEYS: none" and "--- ARGV: none" say there is none. A line that
// starts with "---" and two more spaces continues the one above. Every
// KEYS[n] and ARGV[n] the script reads, its prelude's included, has a
// line. A prelude's own header (path, KEYS, ARGV; no reply) says what it
// reads. The prose below the header is "-- " comments.
//
// A script whose header names a prelude (a file in the same directory)
// runs as the prelude's bytes followed by its own bytes, nothing between
// them: that text is what EVAL (or SCRIPT LOAD, then EVALSHA) is given, so
// its SHA-1 is the same in every language that follows the rule.
package luascript

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Dir is the directory, inside a part's embedded files, holding its scripts.
const Dir = "lua"

// Load returns the script in file name (e.g. "acquire.lua") of a part's
// embedded scripts. It panics when the file or its prelude is missing: the
// names are constants in the engine's source, and a test loads every one.
func Load(fsys fs.FS, name string) *redis.Script {
	text, err := Source(fsys, path.Join(Dir, name))
	if err != nil {
		panic(err)
	}
	return redis.NewScript(text)
}

// Source returns the text the script in file p runs as: its prelude's bytes,
// when its header names one, followed by its own.
func Source(fsys fs.FS, p string) (string, error) {
	b, err := fs.ReadFile(fsys, p)
	if err != nil {
		return "", fmt.Errorf("luascript: %w", err)
	}
	own := string(b)
	pre, ok := Prelude(own)
	if !ok {
		return own, nil
	}
	pb, err := fs.ReadFile(fsys, path.Join(path.Dir(p), pre))
	if err != nil {
		return "", fmt.Errorf("luascript: %s names prelude %s: %w", p, pre, err)
	}
	return string(pb) + own, nil
}

// Prelude returns the prelude a script's header names, if any.
func Prelude(text string) (string, bool) {
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "---") {
			break
		}
		if p, ok := strings.CutPrefix(line, "--- prelude: "); ok {
			return strings.TrimSpace(p), true
		}
	}
	return "", false
}
