// Package duration is the one duration type of haderctl's inputs: the
// config file, the environment, flags and scenario files all read a
// duration the same way.
//
// Forms: a Go duration ("90s", "2m", "1h30m"), a number of seconds ("90",
// "0.5"), or "never". A negative value is read as never too (so
// "remind_every: -1s" keeps its old meaning); a field for which never
// means nothing refuses Never in its own range check.
package duration

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration read from text in the forms above.
type Duration time.Duration

// Never is what "never" (or a negative value) reads as.
const Never = Duration(-1)

// ErrTooLarge is a number beyond what a Go duration (about 292 years) can
// hold: said so, never wrapped around.
var ErrTooLarge = errors.New("too large")

// goSyntax is what time.ParseDuration accepts; a string of this shape that
// it still refuses has overflowed.
var goSyntax = regexp.MustCompile(`^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

// Parse reads "30s", "2m", "1h30m" or a number of seconds ("90", "0.5");
// not "never" (see Duration.Set). A value too large for a duration is
// ErrTooLarge.
func Parse(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		switch ns := f * float64(time.Second); {
		case math.IsNaN(f):
			return 0, fmt.Errorf("%q is not a duration", s)
		case math.IsInf(f, 0) || ns >= math.MaxInt64 || ns <= math.MinInt64:
			return 0, ErrTooLarge
		default:
			return time.Duration(ns), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil && goSyntax.MatchString(s) {
		return 0, ErrTooLarge
	}
	return d, err
}

// Set reads s in any of the forms (flag.Value, environment variables).
func (d *Duration) Set(s string) error {
	if strings.TrimSpace(s) == "never" {
		*d = Never
		return nil
	}
	v, err := Parse(s)
	switch {
	case errors.Is(err, ErrTooLarge):
		return fmt.Errorf("%q is too large for a duration", s)
	case err != nil:
		return fmt.Errorf("%q is not a duration (e.g. 30s, 2m, or a number of seconds)", s)
	case v < 0:
		*d = Never
	default:
		*d = Duration(v)
	}
	return nil
}

// NodeError is a bad value met while decoding YAML, placed by its node so
// a caller holding the document can name the field.
type NodeError struct {
	Line, Column int
	Msg          string
}

func (e *NodeError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// BadNode is a NodeError at n.
func BadNode(n *yaml.Node, format string, a ...any) error {
	return &NodeError{Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, a...)}
}

// UnmarshalYAML reads a scalar in any of the forms.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return BadNode(n, "%q is not a duration (e.g. 30s, 2m, or a number of seconds)", n.Value)
	}
	if err := d.Set(n.Value); err != nil {
		return BadNode(n, "%s", err)
	}
	return nil
}

// UnmarshalText reads any of the forms (JSON strings, env decoders).
func (d *Duration) UnmarshalText(b []byte) error { return d.Set(string(b)) }

// MarshalYAML writes the Go form ("2m0s") or "never".
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes the Go form ("2m0s") or "never".
func (d Duration) MarshalJSON() ([]byte, error) { return strconv.AppendQuote(nil, d.String()), nil }

// String is the Go form, or "never".
func (d Duration) String() string {
	if d < 0 {
		return "never"
	}
	return time.Duration(d).String()
}

// Type names the value in flag help (pflag.Value).
func (d *Duration) Type() string { return "duration" }

// Std is the time.Duration (Never is negative).
func (d Duration) Std() time.Duration { return time.Duration(d) }
