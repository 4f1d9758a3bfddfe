package commands

import (
	"io"
	"slices"
	"strings"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/spf13/cobra"
)

// completionShells are the shells `haderctl completion` writes a script
// for, each with the file name the release archive ships it under
// (completions/, made by scripts/gen-completions.sh).
var completionShells = []struct{ Shell, File string }{
	{"bash", "haderctl.bash"},
	{"zsh", "_haderctl"},
	{"fish", "haderctl.fish"},
	{"powershell", "haderctl.ps1"},
}

// CompletionOptions are `haderctl completion`'s inputs.
type CompletionOptions struct {
	F     *cmdutil.Factory
	Shell string
	// NoDescriptions leaves the one-line descriptions out of the choices.
	NoDescriptions bool
	// Root is the command tree the script completes.
	Root *cobra.Command
}

// NewCmdCompletion builds `haderctl completion`.
func NewCmdCompletion(f *cmdutil.Factory, runF func(*CompletionOptions) error) *cobra.Command {
	opts := &CompletionOptions{F: f}
	var shells []string
	for _, s := range completionShells {
		shells = append(shells, s.Shell)
	}
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell [--no-descriptions]",
		Short: "Print the shell completion script for bash, zsh, fish or PowerShell",
		Long: `Print a script that makes the shell complete haderctl's commands, flags
and the names they take: breakers, queues, services, scenarios and running
experiments. Names are read from Redis and the config file at each TAB,
with the same --redis-url, --namespace and --config as the command line
typed so far; when Redis does not answer within half a second
(HADERCTL_COMPLETION_TIMEOUT changes it, up to 10s) nothing is offered
and nothing is printed.

A release archive carries the scripts ready made in completions/
(haderctl.bash, _haderctl, haderctl.fish, haderctl.ps1): install those
the same way instead of running the command.

bash (needs the bash-completion package):
  source <(haderctl completion bash)                 # this shell only
  haderctl completion bash > ~/.local/share/bash-completion/completions/haderctl

zsh (compinit must be on: autoload -U compinit; compinit in ~/.zshrc):
  haderctl completion zsh > "${fpath[1]}/_haderctl"   # then start a new shell

fish:
  haderctl completion fish > ~/.config/fish/completions/haderctl.fish

PowerShell:
  haderctl completion powershell | Out-String | Invoke-Expression   # this session
  # every session: add the line above to the file $PROFILE names`,
		Example: `  haderctl completion bash > /etc/bash_completion.d/haderctl
  haderctl completion zsh --no-descriptions > ~/.zfunc/_haderctl`,
		ValidArgs:             shells,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cmdutil.UsageErrorf("completion takes one shell: %s", strings.Join(shells, ", "))
			}
			opts.Shell = args[0]
			opts.Root = cmd.Root()
			if !slices.Contains(shells, opts.Shell) {
				return cmdutil.UsageErrorf("unknown shell %q: use %s", opts.Shell, strings.Join(shells, ", "))
			}
			if runF != nil {
				return runF(opts)
			}
			return completionRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.NoDescriptions, "no-descriptions", false, "offer the choices without their descriptions")
	return cmd
}

// completionRun writes the script. Each is cobra's own, which asks the
// binary (`haderctl __complete ...`) for the choices at every TAB, so it
// never goes stale when a command is added.
func completionRun(opts *CompletionOptions) error {
	return writeCompletion(opts.F.IO.Out, opts.Root, opts.Shell, !opts.NoDescriptions)
}

func writeCompletion(w io.Writer, root *cobra.Command, shell string, descriptions bool) error {
	switch shell {
	case "bash":
		return root.GenBashCompletionV2(w, descriptions)
	case "zsh":
		if descriptions {
			return root.GenZshCompletion(w)
		}
		return root.GenZshCompletionNoDesc(w)
	case "fish":
		return root.GenFishCompletion(w, descriptions)
	default:
		if descriptions {
			return root.GenPowerShellCompletionWithDesc(w)
		}
		return root.GenPowerShellCompletion(w)
	}
}
