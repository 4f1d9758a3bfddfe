// Package cmdutil holds what every command shares: exit codes from
// errors, the JSON exporter, tables and the factory of dependencies.
package cmdutil

import (
	"errors"
	"fmt"

	"github.com/haderos/haderctl/internal/config"
	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/store"
)

// Exit codes (haderctl help exit-codes).
const (
	ExitOK          = 0
	ExitUnhealthy   = 1
	ExitUsage       = 2
	ExitUnavailable = 3
	ExitRefused     = 4
	ExitTempFail    = 75 // sysexits' EX_TEMPFAIL: `breaker exec` refused by an open breaker
)

// ExitError carries an exit code. With a nil Err nothing is printed (the
// message was written already, or the code speaks for itself).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// UsageErrorf is bad input: exit 2.
func UsageErrorf(format string, a ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, a...)}
}

// Unhealthyf says the thing checked is not healthy: exit 1.
func Unhealthyf(format string, a ...any) error {
	return &ExitError{Code: ExitUnhealthy, Err: fmt.Errorf(format, a...)}
}

// SilentExit exits with code and prints nothing more.
func SilentExit(code int) error { return &ExitError{Code: code} }

// ExitCode maps an error to the process' exit code. ran says whether the
// command's own code ran: an untyped error before that is cobra's (unknown
// command or flag, wrong arguments), so usage.
func ExitCode(err error, ran bool) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	var ue *store.UnavailableError
	var se *store.SchemaError
	var ne *store.NameError
	var ce *config.Error
	var oe *engine.OptionsError
	var corrupt *breaker.CorruptError
	var refused *chaos.RefusedError
	var chaosInput *chaos.InputError
	var healthInput *health.InputError
	switch {
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ue), errors.As(err, &se), store.IsFailure(err):
		return ExitUnavailable
	case errors.As(err, &refused):
		return ExitRefused
	case errors.As(err, &ne), errors.As(err, &ce), errors.As(err, &oe), queue.IsInput(err), errors.As(err, &chaosInput), errors.As(err, &healthInput):
		return ExitUsage
	case errors.As(err, &corrupt):
		return ExitUnhealthy
	case !ran:
		return ExitUsage
	}
	return ExitUnhealthy
}
