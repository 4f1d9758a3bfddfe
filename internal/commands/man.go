package commands

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/haderos/haderctl/internal/build"
	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// manFallbackDate dates the pages of a build that carries no date (a dev
// build) when SOURCE_DATE_EPOCH is unset either: a constant, so pages made
// twice from the same source are the same bytes.
var manFallbackDate = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// ManOptions are `haderctl man`'s inputs.
type ManOptions struct {
	F *cmdutil.Factory
	// Dir is where the pages go; it is made if missing.
	Dir string
	// Getenv reads SOURCE_DATE_EPOCH.
	Getenv func(string) string
	// Root is the command tree to document.
	Root *cobra.Command
}

// NewCmdMan builds the hidden `haderctl man`, for packagers.
func NewCmdMan(f *cmdutil.Factory, getenv func(string) string, runF func(*ManOptions) error) *cobra.Command {
	opts := &ManOptions{F: f, Getenv: getenv}
	cmd := &cobra.Command{
		Use:   "man [--dir DIR]",
		Short: "Write a man page (roff, section 1) for every command",
		Long: `Write one man page per command into --dir: haderctl.1,
haderctl-breaker.1, haderctl-breaker-status.1 and so on. Hidden commands
(this one, __complete), help and the help topics (exit-codes) get none.
The date in each page's header is SOURCE_DATE_EPOCH when it is set, else
the build's date, else a constant: the same source makes the same pages.`,
		Example: "  haderctl man --dir dist/manpages\n  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) haderctl man",
		Hidden:  true,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Dir == "" {
				return cmdutil.UsageErrorf("--dir must name a directory")
			}
			opts.Root = cmd.Root()
			if runF != nil {
				return runF(opts)
			}
			return manRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "manpages", "directory to write the pages into")
	return cmd
}

func manRun(opts *ManOptions) error {
	date, err := manDate(opts.Getenv)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return cmdutil.UsageErrorf("--dir: %s", err)
	}
	// The pages' own footer says which haderctl they describe; cobra's
	// "Auto generated" history line would say nothing a reader needs.
	walkCommands(opts.Root, func(c *cobra.Command) { c.DisableAutoGenTag = true })
	version, _, _ := build.Info()
	header := &doc.GenManHeader{Section: "1", Date: &date, Source: "haderctl " + version, Manual: "haderctl Manual"}
	if err := doc.GenManTree(opts.Root, header, opts.Dir); err != nil {
		return fmt.Errorf("writing the man pages: %w", err)
	}
	fmt.Fprintf(opts.F.IO.ErrOut, "man pages written to %s\n", opts.Dir)
	return nil
}

// manDate is the pages' date: SOURCE_DATE_EPOCH (reproducible-builds.org),
// else the build's date, else manFallbackDate.
func manDate(getenv func(string) string) (time.Time, error) {
	if v := getenv("SOURCE_DATE_EPOCH"); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs < 0 {
			return time.Time{}, cmdutil.UsageErrorf("invalid SOURCE_DATE_EPOCH %q: use whole seconds since 1970-01-01 UTC", v)
		}
		return time.Unix(secs, 0).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, build.Date); err == nil {
		return t.UTC(), nil
	}
	return manFallbackDate, nil
}
