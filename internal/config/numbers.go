package config

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

// The file keeps every number as a pointer (or a type of its own) so that
// a field left out (the default) and one written as 0 stay apart: a 0
// that has no documented meaning is an error naming the field, never the
// default in disguise (docs/configuration.md, "Numbers").

// MaxCount bounds every count in the configuration (thresholds, probes,
// attempts, stalls): beyond it a value is a typo, not a policy.
const MaxCount = 1_000_000

// Duration is a time.Duration written as "120s" or a number of seconds.
type Duration time.Duration

// ErrTooLarge is a number beyond what its field (or a Go duration,
// about 292 years) can hold.
var ErrTooLarge = errors.New("too large")

// durationSyntax is what time.ParseDuration accepts; a string of this
// shape that it still refuses has overflowed.
var durationSyntax = regexp.MustCompile(`^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

// ParseDuration reads "30s", "2m", "1h30m" or a number of seconds ("90",
// "0.5"). A value too large for a duration is ErrTooLarge, never a
// wrapped-around one.
func ParseDuration(s string) (time.Duration, error) {
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
	if err != nil && durationSyntax.MatchString(s) {
		return 0, ErrTooLarge
	}
	return d, err
}

// ParseInt reads a whole number; one beyond an int is ErrTooLarge.
func ParseInt(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if errors.Is(err, strconv.ErrRange) {
		return 0, ErrTooLarge
	}
	return n, err
}

// fieldError is a bad value found while decoding, placed by its node so
// the message can name the field.
type fieldError struct {
	line, column int
	msg          string
}

func (e *fieldError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func badNode(n *yaml.Node, format string, a ...any) error {
	return &fieldError{line: n.Line, column: n.Column, msg: fmt.Sprintf(format, a...)}
}

// UnmarshalYAML accepts "30s", "2m" or a number of seconds, not negative.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	switch {
	case errors.Is(err, ErrTooLarge):
		return badNode(n, "%q is too large for a duration", n.Value)
	case err != nil || n.Kind != yaml.ScalarNode:
		return badNode(n, "%q is not a duration (e.g. 30s, 2m, or a number of seconds)", n.Value)
	case v < 0:
		return badNode(n, "%q is negative: a duration must not be", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the Go form, e.g. "2m0s".
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// MarshalJSON writes the Go form, e.g. "2m0s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, time.Duration(d).String()), nil
}

// String is the Go form.
func (d Duration) String() string { return time.Duration(d).String() }

// Reminder is alerts' remind_every: a duration, or "never" (a negative
// duration is read as never too).
type Reminder time.Duration

// UnmarshalYAML accepts a duration or "never".
func (r *Reminder) UnmarshalYAML(n *yaml.Node) error {
	if v := strings.TrimSpace(n.Value); v == "never" || strings.HasPrefix(v, "-") {
		if v != "never" {
			if _, err := ParseDuration(v); err != nil && !errors.Is(err, ErrTooLarge) {
				return badNode(n, "%q is not a duration or never", n.Value)
			}
		}
		*r = -1
		return nil
	}
	var d Duration
	if err := d.UnmarshalYAML(n); err != nil {
		return err
	}
	*r = Reminder(d)
	return nil
}

// MarshalYAML writes "never" or the Go form.
func (r Reminder) MarshalYAML() (any, error) { return r.String(), nil }

// MarshalJSON writes "never" or the Go form.
func (r Reminder) MarshalJSON() ([]byte, error) { return strconv.AppendQuote(nil, r.String()), nil }

func (r Reminder) String() string {
	if r < 0 {
		return "never"
	}
	return time.Duration(r).String()
}

// Timeout is redis.timeout: its zero value is "left out" (the default),
// since the file can never set it to 0.
type Timeout Duration

// UnmarshalYAML accepts a duration of 1ms to MaxTimeout.
func (t *Timeout) UnmarshalYAML(n *yaml.Node) error {
	var d Duration
	if err := d.UnmarshalYAML(n); err != nil {
		return err
	}
	if err := checkDuration("timeout", &d, time.Millisecond, MaxTimeout); err != nil {
		return badNode(n, "%s", strings.TrimPrefix(err.Error(), "timeout: "))
	}
	*t = Timeout(d)
	return nil
}

// MarshalYAML writes the Go form, e.g. "5s".
func (t Timeout) MarshalYAML() (any, error) { return Duration(t).MarshalYAML() }

// MarshalJSON writes the Go form, e.g. "5s".
func (t Timeout) MarshalJSON() ([]byte, error) { return Duration(t).MarshalJSON() }

func (t Timeout) String() string { return Duration(t).String() }

// Int is a whole number in the file; one too large for an int says so.
type Int int

// UnmarshalYAML accepts a whole number.
func (i *Int) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseInt(n.Value)
	switch {
	case errors.Is(err, ErrTooLarge):
		return badNode(n, "%s is too large", n.Value)
	case err != nil || n.Kind != yaml.ScalarNode:
		return badNode(n, "%q is not a whole number", n.Value)
	}
	*i = Int(v)
	return nil
}

// Float is a number in the file; infinity and NaN are refused.
type Float float64

// UnmarshalYAML accepts a finite number.
func (f *Float) UnmarshalYAML(n *yaml.Node) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(n.Value), 64)
	switch {
	case errors.Is(err, strconv.ErrRange) || math.IsInf(v, 0) || strings.Contains(strings.ToLower(n.Value), "inf"):
		return badNode(n, "%s is too large", n.Value)
	case err != nil || math.IsNaN(v) || n.Kind != yaml.ScalarNode:
		return badNode(n, "%q is not a number", n.Value)
	}
	*f = Float(v)
	return nil
}

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
// in the file's terms; a nil pointer is a field left out (its default).

func checkInt(field string, v *Int, lo, hi int) error {
	switch {
	case v == nil:
		return nil
	case int(*v) > hi:
		return errorf("%s: %d is too large: at most %d", field, *v, hi)
	case int(*v) < lo && *v == 0:
		return errorf("%s: 0 is not allowed: it must be at least %d (leave it out for the default)", field, lo)
	case int(*v) < lo:
		return errorf("%s: %d is too small: it must be at least %d", field, *v, lo)
	}
	return nil
}

func checkFloat(field string, v *Float, lo, hi float64, loOpen bool) error {
	if v == nil {
		return nil
	}
	f := float64(*v)
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

func checkDuration(field string, v *Duration, lo, hi time.Duration) error {
	switch {
	case v == nil:
		return nil
	case time.Duration(*v) > hi:
		return errorf("%s: %s is too large: at most %s", field, *v, hi)
	case *v == 0 && lo > 0:
		return errorf("%s: 0 is not allowed: it must be at least %s (leave it out for the default)", field, lo)
	case time.Duration(*v) < lo:
		return errorf("%s: %s is too small: it must be at least %s", field, *v, lo)
	}
	return nil
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
