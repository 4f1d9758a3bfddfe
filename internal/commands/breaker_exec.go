package commands

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/spf13/cobra"
)

// BreakerExecOptions are `haderctl breaker exec`'s inputs.
type BreakerExecOptions struct {
	F       *cmdutil.Factory
	Name    string
	Command []string
	// Timeout kills the command after this long (0: no limit); a killed
	// command is a failure and exits 124, as timeout(1) does.
	Timeout time.Duration
}

// NewCmdBreakerExec builds `haderctl breaker exec`.
func NewCmdBreakerExec(f *cmdutil.Factory, runF func(*BreakerExecOptions) error) *cobra.Command {
	opts := &BreakerExecOptions{F: f}
	cmd := &cobra.Command{
		Use:   "exec NAME [--timeout D] -- CMD [ARGS...]",
		Short: "Run a command guarded by a shared breaker; exit 75 at once if it is open",
		Long: `Run CMD guarded by the breaker NAME. When the breaker is open, CMD is not run:
haderctl exits 75 (EX_TEMPFAIL) at once and says when the next probe is due.
Otherwise CMD runs with haderctl's stdin, stdout and stderr; exit status 0
is recorded as a success, anything else as a failure, and haderctl exits
with CMD's own code. Here --timeout is CMD's time limit, not Redis'.

If Redis is unreachable or refuses haderctl (an ACL, out of memory, a
wrong-typed key of another part...), CMD runs unguarded with a warning
saying why (redis_unavailable: allow, the default) or is refused with exit
75 (deny). A breaker whose own keys are corrupt (the wrong type, values
that do not parse) is refused with exit 75 until "haderctl breaker reset
NAME" repairs it.`,
		Example: `  haderctl breaker exec shopify -- curl -fsS https://shop.example/api/orders
  haderctl breaker exec aramex --timeout 30s -- ./sync-shipments.sh
  # in cron: try later when the breaker is open
  haderctl breaker exec erp -- ./push.sh || [ $? -eq 75 ]`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if len(args) == 0 {
				return cmdutil.UsageErrorf("exec needs a breaker name and a command: exec NAME -- CMD [ARGS...]")
			}
			if dash != 1 || len(args) < 2 {
				return cmdutil.UsageErrorf("put -- between the breaker name and the command: exec %s -- CMD [ARGS...]", args[0])
			}
			if opts.Timeout < 0 {
				return cmdutil.UsageErrorf("--timeout must not be negative")
			}
			opts.Name, opts.Command = args[0], args[1:]
			if err := validNames(args[:1]); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return breakerExecRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 0, "kill the command after this long and count a failure (exit 124)")
	return cmd
}

func breakerExecRun(ctx context.Context, opts *BreakerExecOptions) error {
	f := opts.F
	e, err := f.Breakers()
	var adm *breaker.Admission
	if err == nil {
		actx, cancel := f.RedisContext(ctx)
		adm, err = e.Acquire(actx, opts.Name)
		cancel()
	}
	// Redis refusing us (NOPERM, OOM, a wrong-typed key, ...) is no more
	// the service's fault than Redis being down: both take the
	// redis_unavailable path rather than failing without running CMD.
	var down error
	if store.IsFailure(err) {
		down = f.RedisError(err)
		c, cerr := f.Config()
		if cerr != nil {
			return cerr
		}
		if c.BreakerSettings(opts.Name).RedisUnavailable == "deny" {
			return &cmdutil.ExitError{Code: cmdutil.ExitTempFail, Err: fmt.Errorf("%w; breaker %s refuses calls meanwhile (redis_unavailable: deny)", down, opts.Name)}
		}
		adm, err = &breaker.Admission{Name: opts.Name, Local: true}, nil
	}
	var open *breaker.OpenError
	var corrupt *breaker.CorruptError
	switch {
	case errors.As(err, &open):
		return &cmdutil.ExitError{Code: cmdutil.ExitTempFail, Err: open}
	case errors.As(err, &corrupt):
		// Not run: 75 keeps "not run, try later" apart from CMD's own codes.
		return &cmdutil.ExitError{Code: cmdutil.ExitTempFail, Err: corrupt}
	case err != nil:
		return f.RedisError(err)
	}
	if adm.Local {
		if store.IsRefused(down) {
			fmt.Fprintf(f.IO.ErrOut, "haderctl: warning: %s; running %s without the shared breaker\n", down, opts.Command[0])
		} else {
			fmt.Fprintf(f.IO.ErrOut, "haderctl: warning: Redis is unreachable; running %s without the shared breaker\n", opts.Command[0])
		}
	}

	code, runErr := runGuarded(ctx, opts)
	fctx, cancel := f.RedisContext(context.WithoutCancel(ctx))
	defer cancel()
	if runErr != nil {
		// Not started, or interrupted: not the service's fault.
		_ = e.Release(fctx, adm)
		return &cmdutil.ExitError{Code: code, Err: runErr}
	}
	if e != nil {
		if _, err := e.Finish(fctx, adm, code == 0); err != nil {
			fmt.Fprintf(f.IO.ErrOut, "haderctl: warning: the outcome was not recorded: %s\n", f.RedisError(err))
		}
	}
	if code != 0 {
		return cmdutil.SilentExit(code)
	}
	return nil
}

// runGuarded runs the command and returns its exit code. An error means the
// outcome says nothing about the service: the command could not start (127)
// or haderctl was interrupted.
func runGuarded(ctx context.Context, opts *BreakerExecOptions) (int, error) {
	runCtx := ctx
	var cancel context.CancelFunc = func() {}
	if opts.Timeout > 0 {
		runCtx, cancel = context.WithTimeout(ctx, opts.Timeout)
	}
	defer cancel()
	c := exec.CommandContext(runCtx, opts.Command[0], opts.Command[1:]...)
	c.Stdin, c.Stdout, c.Stderr = opts.F.IO.In, opts.F.IO.Out, opts.F.IO.ErrOut
	// Ask politely first: SIGTERM, then SIGKILL after a grace period.
	c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
	c.WaitDelay = 10 * time.Second
	err := c.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case ctx.Err() != nil:
		return 130, fmt.Errorf("interrupted; %s was stopped and its outcome not recorded", opts.Command[0])
	case runCtx.Err() != nil:
		fmt.Fprintf(opts.F.IO.ErrOut, "haderctl: %s killed after --timeout %s; recorded as a failure\n", opts.Command[0], opts.Timeout)
		return 124, nil
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exitErr.ExitCode(), nil
	}
	return 127, fmt.Errorf("cannot run %s: %s", opts.Command[0], errors.Unwrap(err))
}
