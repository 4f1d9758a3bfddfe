package commands

import (
	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/config"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// NewCmdConfig groups the config verbs.
func NewCmdConfig(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Show the effective configuration", RunE: groupRun}
	cmd.AddCommand(NewCmdConfigView(f, nil))
	return cmd
}

// ConfigViewOptions are `haderctl config view`'s inputs.
type ConfigViewOptions struct {
	F           *cmdutil.Factory
	ShowSecrets bool
}

// NewCmdConfigView builds `haderctl config view`.
func NewCmdConfigView(f *cmdutil.Factory, runF func(*ConfigViewOptions) error) *cobra.Command {
	opts := &ConfigViewOptions{F: f}
	cmd := &cobra.Command{
		Use:   "view",
		Short: "Print the effective configuration (flags > environment > file > defaults), secrets redacted",
		Example: `  haderctl config view
  REDIS_URL=redis://:pw@10.0.0.5:6379/2 haderctl config view -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return configViewRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.ShowSecrets, "show-secrets", false, "print passwords and secret headers as they are")
	return cmd
}

// effectiveView is the printed form: the config plus every service's
// filled-in breaker settings.
type effectiveView struct {
	ConfigFile string         `json:"config_file" yaml:"config_file"`
	Config     any            `json:"config" yaml:"config"`
	Breakers   map[string]any `json:"effective_breakers" yaml:"effective_breakers"`
}

func configViewRun(opts *ConfigViewOptions) error {
	c, err := opts.F.Config()
	if err != nil {
		return err
	}
	shown := c.Redacted().Effective()
	if opts.ShowSecrets {
		shown = c.Effective()
	}
	// Printable: the engine's types print their durations as "2m0s".
	view := effectiveView{ConfigFile: c.File, Config: config.Printable(shown),
		Breakers: map[string]any{"(default)": config.Printable(c.BreakerSettings(""))}}
	if view.ConfigFile == "" {
		view.ConfigFile = "(none)"
	}
	for _, s := range c.Services {
		view.Breakers[s.Name] = config.Printable(c.BreakerSettings(s.Name))
	}
	if opts.F.JSON() {
		return cmdutil.WriteJSON(opts.F.IO.Out, view)
	}
	enc := yaml.NewEncoder(opts.F.IO.Out)
	enc.SetIndent(2)
	return enc.Encode(view)
}
