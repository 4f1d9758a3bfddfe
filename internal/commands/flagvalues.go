package commands

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/config"
	"github.com/haderos/haderctl/internal/engine/duration"
	"github.com/spf13/pflag"
)

// Numeric flags that say "too large" when a value overflows, instead of
// pflag's "invalid duration" or "value out of range" (or a wrapped-around
// number). pflag names the flag: invalid argument "9999999999h" for
// "--interval" flag: too large for a duration.

// durationValue is a duration flag: "30s", "2m" or a number of seconds,
// read by duration.Parse as the config file and the environment read them.
type durationValue time.Duration

func durationFlag(fl *pflag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fl.Var((*durationValue)(p), name, usage)
}

func (d *durationValue) Set(s string) error {
	v, err := duration.Parse(s)
	switch {
	case errors.Is(err, duration.ErrTooLarge):
		return errors.New("too large for a duration")
	case err != nil:
		return errors.New("not a duration (e.g. 30s, 2m, or a number of seconds)")
	}
	*d = durationValue(v)
	return nil
}

func (d *durationValue) String() string { return time.Duration(*d).String() }
func (d *durationValue) Type() string   { return "duration" }

// intValue is a whole-number flag.
type intValue int

func intFlag(fl *pflag.FlagSet, p *int, name string, value int, usage string) {
	*p = value
	fl.Var((*intValue)(p), name, usage)
}

func (i *intValue) Set(s string) error {
	v, err := config.ParseInt(s)
	switch {
	case errors.Is(err, config.ErrTooLarge):
		return errors.New("too large")
	case err != nil:
		return errors.New("not a whole number")
	}
	*i = intValue(v)
	return nil
}

func (i *intValue) String() string { return strconv.Itoa(int(*i)) }
func (i *intValue) Type() string   { return "int" }

// int64Value is a whole-number flag of 64 bits.
type int64Value int64

func int64Flag(fl *pflag.FlagSet, p *int64, name string, value int64, usage string) {
	*p = value
	fl.Var((*int64Value)(p), name, usage)
}

func (i *int64Value) Set(s string) error {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return errors.New("too large")
	case err != nil:
		return errors.New("not a whole number")
	}
	*i = int64Value(v)
	return nil
}

func (i *int64Value) String() string { return strconv.FormatInt(int64(*i), 10) }
func (i *int64Value) Type() string   { return "int" }

// floatValue is a finite number flag.
type floatValue float64

func floatFlag(fl *pflag.FlagSet, p *float64, name string, value float64, usage string) {
	*p = value
	fl.Var((*floatValue)(p), name, usage)
}

func (f *floatValue) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	switch {
	case errors.Is(err, strconv.ErrRange) || math.IsInf(v, 0):
		return errors.New("too large")
	case err != nil || math.IsNaN(v):
		return errors.New("not a number")
	}
	*f = floatValue(v)
	return nil
}

func (f *floatValue) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 64) }
func (f *floatValue) Type() string   { return "float" }

// intFlagRange checks a flag that was given against [lo, hi]; one left
// out keeps its default (which may be 0, meaning "from the config").
func intFlagRange(fl *pflag.FlagSet, name string, n, lo, hi int) error {
	switch {
	case !fl.Changed(name):
		return nil
	case n > hi:
		return cmdutil.UsageErrorf("invalid --%s %d: too large, at most %d", name, n, hi)
	case n < lo && n == 0:
		return cmdutil.UsageErrorf("invalid --%s 0: it must be at least %d (leave the flag out for the default)", name, lo)
	case n < lo:
		return cmdutil.UsageErrorf("invalid --%s %d: it must be at least %d", name, n, lo)
	}
	return nil
}

// durationFlagRange checks a duration flag against [lo, hi].
func durationFlagRange(fl *pflag.FlagSet, name string, d, lo, hi time.Duration) error {
	switch {
	case d > hi:
		return cmdutil.UsageErrorf("invalid --%s %s: too large, at most %s", name, d, hi)
	case d < lo && fl.Changed(name) && d == 0:
		return cmdutil.UsageErrorf("invalid --%s 0s: it must be at least %s (leave the flag out for the default)", name, lo)
	case d < lo:
		return cmdutil.UsageErrorf("invalid --%s %s: it must be at least %s", name, d, lo)
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
