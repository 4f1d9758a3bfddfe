// Package commands is haderctl's command tree. Each noun has a file that
// groups its verbs; each verb has an XOptions struct, a NewCmdX
// constructor that parses and validates flags, and an xRun that calls the
// engine and renders. No Redis or HTTP code lives here.
package commands

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/config"
	"github.com/haderos/haderctl/internal/iostreams"
	"github.com/haderos/haderctl/internal/redact"
	"github.com/spf13/cobra"
)

// ExitCode is the process' exit status.
type ExitCode int

// Main runs haderctl with the process' arguments and streams.
func Main() ExitCode {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, iostreams.System(), os.Args[1:], config.SystemSources())
}

// Run runs haderctl with the given arguments; tests call it directly.
func Run(ctx context.Context, io *iostreams.IOStreams, args []string, src config.Sources) ExitCode {
	if src.Getenv == nil {
		src.Getenv = func(string) string { return "" }
	}
	root, g := newRoot(io, src)
	root.SetArgs(args)
	quietCompletionRequest(root, args)
	// The engine, if a command opened it, lives as long as the run: its
	// background work (the chaos data plane, the breakers' listener) ends
	// with ctx or here, before the process exits.
	g.factory.Context = ctx
	err := root.ExecuteContext(ctx)
	if cerr := g.factory.Close(); err == nil && cerr != nil {
		g.factory.Logger.Debug("closing the engine", "err", cerr)
	}
	// Every Redis failure gets its words here, whichever command met it.
	err = g.factory.RedisError(err)
	code := cmdutil.ExitCode(err, g.ran)
	if err != nil && err.Error() != "" {
		if ee, ok := err.(*cmdutil.ExitError); !ok || ee.Err != nil {
			msg := strings.ReplaceAll(err.Error(), "\n", " ")
			// Last line of defence, even when the config did not load.
			secrets := append(redact.URLPasswords(g.redisURL), redact.URLPasswords(src.Getenv("REDIS_URL"))...)
			if c, cerr := g.factory.Config(); cerr == nil {
				secrets = append(secrets, c.Secrets()...)
			}
			msg = redact.Scrub(msg, secrets...)
			fmt.Fprintln(io.ErrOut, "haderctl: "+msg)
		}
	}
	return ExitCode(code)
}

// globals are the root's flags and what the run learned.
type globals struct {
	redisURL, namespace, configPath, output string
	timeout                                 time.Duration
	noColor, verbose                        bool
	ran                                     bool
	factory                                 *cmdutil.Factory
}

func newRoot(io *iostreams.IOStreams, src config.Sources) (*cobra.Command, *globals) {
	g := &globals{}
	level := new(slog.LevelVar)
	level.Set(slog.LevelWarn)
	logger := slog.New(slog.NewTextHandler(io.ErrOut, &slog.HandlerOptions{Level: level}))
	root := &cobra.Command{
		Use:   "haderctl",
		Short: "Operate the HaderOS resilience engine: breakers, fallback queue, health checks, chaos",
		Long: `haderctl carries the HaderOS resilience engine, all of its state in Redis
so every process sees and changes the same thing: circuit breakers shared
by every caller, the fallback queue that keeps failed operations and
replays them, health checks with alerts that fire once however many
watchers run, and chaos experiments with safety limits and game days.
Every command works at a terminal (tables, colour), in CI (exit codes,
-o json, JUnit) and in scripts (data on stdout only).`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			g.ran = true
			if g.verbose {
				level.Set(slog.LevelDebug)
			}
			if g.noColor {
				io.SetColorEnabled(false)
				io.SetNoColor(true)
			}
			if f := cmd.Flags().Lookup("timeout"); f != nil && f.Changed && g.timeout <= 0 && cmd.Name() != "exec" {
				return cmdutil.UsageErrorf("invalid --timeout %s: it must be positive", g.timeout)
			}
			return cmdutil.ValidateOutput(g.output)
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.redisURL, "redis-url", config.DefaultRedisURL, "Redis URL (env REDIS_URL); see docs/configuration.md for TLS, unix, Sentinel and Cluster forms")
	pf.StringVar(&g.namespace, "namespace", config.DefaultNamespace, "prefix of every Redis key (env HADERCTL_NAMESPACE)")
	pf.StringVar(&g.configPath, "config", "", "config file (env HADERCTL_CONFIG; default ./haderctl.yaml, then $XDG_CONFIG_HOME/haderctl/config.yaml)")
	pf.StringVarP(&g.output, "output", "o", cmdutil.OutputTable, "output format: table or json")
	durationFlag(pf, &g.timeout, "timeout", config.DefaultTimeout, "timeout of each Redis call (env HADERCTL_TIMEOUT)")
	pf.BoolVar(&g.noColor, "no-color", false, "no colour in output (also NO_COLOR)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "debug logs on stderr")

	load := func() (*config.Config, error) {
		var f config.Flags
		if pf.Changed("redis-url") {
			f.RedisURL = &g.redisURL
		}
		if pf.Changed("namespace") {
			f.Namespace = &g.namespace
		}
		if pf.Changed("config") {
			f.Config = &g.configPath
		}
		if pf.Changed("timeout") {
			f.Timeout = &g.timeout
		}
		return config.Load(f, src)
	}
	g.factory = cmdutil.NewFactory(io, logger, func() string { return g.output }, load)
	g.factory.Getenv = src.Getenv
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: err}
	})
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	root.AddCommand(
		NewCmdVersion(g.factory, nil),
		NewCmdConfig(g.factory),
		NewCmdBreaker(g.factory),
		NewCmdQueue(g.factory),
		NewCmdHealth(g.factory),
		NewCmdChaos(g.factory),
		NewCmdGateway(g.factory, nil),
		NewCmdMetrics(g.factory, src.Getenv),
		NewCmdDashboard(g.factory, nil),
		NewCmdDemo(g.factory, nil),
		NewCmdCompletion(g.factory, nil),
		NewCmdMan(g.factory, src.Getenv, nil),
		newHelpTopic("exit-codes", "What haderctl's exit codes mean", exitCodesHelp),
	)
	// `completion` above is cobra's generator with our help text.
	root.CompletionOptions.DisableDefaultCmd = true
	addNameCompletions(root, g.factory)
	return root, g
}
