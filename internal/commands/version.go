package commands

import (
	"fmt"

	"github.com/haderos/haderctl/internal/build"
	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/spf13/cobra"
)

// VersionOptions are `haderctl version`'s inputs.
type VersionOptions struct {
	F *cmdutil.Factory
}

// VersionInfo is what `version -o json` prints.
type VersionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildDate string `json:"build_date"`
	GoVersion string `json:"go_version"`
}

// NewCmdVersion builds `haderctl version`.
func NewCmdVersion(f *cmdutil.Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{F: f}
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version, commit, build date and Go version",
		Example: "  haderctl version\n  haderctl version -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return versionRun(opts)
		},
	}
}

func versionRun(opts *VersionOptions) error {
	version, commit, date := build.Info()
	info := VersionInfo{Version: version, Commit: commit, BuildDate: date, GoVersion: build.GoVersion()}
	if opts.F.JSON() {
		return cmdutil.WriteJSON(opts.F.IO.Out, info)
	}
	_, err := fmt.Fprintf(opts.F.IO.Out, "haderctl %s (commit %s, built %s, %s)\n", info.Version, info.Commit, info.BuildDate, info.GoVersion)
	return err
}
