package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/duration"
	"gopkg.in/yaml.v3"
)

// A field left out (the default) and one written as 0 stay apart: Load
// records the fields the file and the environment wrote (fields.go), and
// a written 0 that has no documented meaning is an error naming the
// field, never the default in disguise (docs/configuration.md, "Numbers").

// MaxCount bounds every count in the configuration (thresholds, probes,
// attempts, stalls): beyond it a value is a typo, not a policy.
const MaxCount = 1_000_000

// ErrTooLarge is a number beyond what its field (or a Go duration,
// about 292 years) can hold: duration.ErrTooLarge, for ints too.
var ErrTooLarge = duration.ErrTooLarge

// ParseInt reads a whole number; one beyond an int is ErrTooLarge.
func ParseInt(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if errors.Is(err, strconv.ErrRange) {
		return 0, ErrTooLarge
	}
	return n, err
}

func badNode(n *yaml.Node, format string, a ...any) error { return duration.BadNode(n, format, a...) }

// fieldPath names the field whose value sits at line:column in the
// document ("services[1].breaker.recovery_timeout"), or "" if none does.
func fieldPath(root *yaml.Node, line, column int) string {
	var walk func(n *yaml.Node, path string) string
	walk = func(n *yaml.Node, path string) string {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if p := walk(c, path); p != "" {
					return p
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				if v.Line == line && v.Column == column {
					return p
				}
				if r := walk(v, p); r != "" {
					return r
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if c.Line == line && c.Column == column {
					return p
				}
				if r := walk(c, p); r != "" {
					return r
				}
			}
		}
		return ""
	}
	return walk(root, "")
}

// Range checks of the file's fields, after decoding. Each names the field
// in the file's terms; set says the file (or the environment) wrote it: a
// field left out is its default and is not checked.

func checkInt(field string, set bool, v, lo, hi int) error {
	switch {
	case !set:
		return nil
	case v > hi:
		return errorf("%s: %d is too large: at most %d", field, v, hi)
	case v < lo && v == 0:
		return errorf("%s: 0 is not allowed: it must be at least %d (leave it out for the default)", field, lo)
	case v < lo:
		return errorf("%s: %d is too small: it must be at least %d", field, v, lo)
	}
	return nil
}

func checkFloat(field string, set bool, f, lo, hi float64, loOpen bool) error {
	if !set {
		return nil
	}
	low := "at least"
	if loOpen {
		low = "above"
	}
	switch {
	case f > hi:
		return errorf("%s: %g is too large: at most %g", field, f, hi)
	case f < lo || (loOpen && f == lo):
		if f == 0 {
			return errorf("%s: 0 is not allowed: it must be %s %g (leave it out for the default)", field, low, lo)
		}
		return errorf("%s: %g is too small: it must be %s %g", field, f, low, lo)
	}
	return nil
}

func checkDuration(field string, set bool, v, lo, hi time.Duration) error {
	switch {
	case !set:
		return nil
	case v < 0:
		return errorf("%s: never (or a negative duration, read as never) is not allowed: it must be a duration of at least %s", field, lo)
	case v > hi:
		return errorf("%s: %s is too large: at most %s", field, v, hi)
	case v == 0 && lo > 0:
		return errorf("%s: 0 is not allowed: it must be at least %s (leave it out for the default)", field, lo)
	case v < lo:
		return errorf("%s: %s is too small: it must be at least %s", field, v, lo)
	}
	return nil
}

// checkDurationPtr is checkDuration of a pointer field (nil: left out).
func checkDurationPtr(field string, v *duration.Duration, lo, hi time.Duration) error {
	if v == nil {
		return nil
	}
	return checkDuration(field, true, time.Duration(*v), lo, hi)
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func deref[T ~int | ~int64 | ~float64, U ~int | ~int64 | ~float64](p *T) U {
	if p == nil {
		return 0
	}
	return U(*p)
}

func ptr[T any](v T) *T { return &v }
