package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/storeopen"
)

// DefaultDB is the database used when neither --db nor WXNOTIFY_DB is set.
const DefaultDB = "sqlite://wxnotify.db"

// Env is what a command may touch of the process, so tests can run commands
// in-process.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Getwd is the working directory, where the CLI looks for a running
	// `wxnotify dev` (devconn.go); nil means it does not look.
	Getwd func() (string, error)
}

// globals are what every command shares: the flags of the root and the
// configuration resolved before the command runs.
type globals struct {
	env    *Env
	config string
	json   bool
	// cfg is the configuration (flags > env > file > defaults), resolved by
	// the root's PersistentPreRunE for every command that reads one.
	cfg *loadedConfig
	// db and logLevel override cfg where a command runs instances of its
	// own (bench); "" means cfg's.
	db, logLevel string
}

// Annotation on a command: how it reads the configuration (see
// PersistentPreRunE in newRootCommand). Absent means it reads the file
// and, without one, a running dev's (devconn.go).
const (
	annConfig       = "wxnotify.config"
	configNone      = "none"       // never: version, keygen, config example
	configNoDevConn = "no-devconn" // the file, but never dev's: serve, dev, sim, bench
)

// Run executes one command line and returns the process exit code.
func Run(ctx context.Context, args []string, env *Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	g := &globals{env: env}
	root := newRootCommand(g)
	root.SetArgs(args)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if strings.HasPrefix(err.Error(), "unknown command") {
		err = usageError{err}
	}
	code := exitCode(err, ctx.Err() != nil)
	writeError(env.Stderr, err, code, g.json || slices.Contains(args, "--json"))
	return code
}

func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "wxnotify",
		Short:         "Reliable WeChat mini-program notifications: tokens, templates, credits, delivery",
		Version:       readBuild().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			mode := ""
			for c := cmd; c != nil; c = c.Parent() {
				if m, ok := c.Annotations[annConfig]; ok {
					mode = m
					break
				}
			}
			if mode == configNone {
				return nil
			}
			_, err := g.loadConfigFor(cmd, mode != configNoDevConn)
			return err
		},
	}
	root.SetVersionTemplate("wxnotify {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		if strings.Contains(err.Error(), "unknown shorthand flag") {
			// WeChat's template ids may start with '-'.
			err = fmt.Errorf("%w (an argument that starts with '-', such as a template id, goes after --)", err)
		}
		return usageError{err}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&g.config, "config", "", "configuration file, TOML (env "+EnvConfig+"; see docs/configuration.md)")
	addSettingFlagsTo(pf, "db", "log-level", "log-format") // read by loadConfig, as every setting
	pf.BoolVar(&g.json, "json", false, "print JSON instead of text, for scripts (errors too, on stderr)")
	root.AddCommand(
		newVersionCommand(g),
		newKeygenCommand(g),
		newMigrateCommand(g),
		newSimCommand(g),
		newAppCommand(g),
		newTokenCommand(g),
		newServeCommand(g),
		newAPIKeyCommand(g),
		newBenchCommand(g),
		newSendCommand(g),
		newBroadcastCommand(g),
		newMessagesCommand(g),
		newCreditsCommand(g),
		newConfigCommand(g),
		newDevCommand(g),
		newTemplateCommand(g),
		newJobsCommand(g),
		newWebhooksCommand(g),
		newHealthcheckCommand(g),
	)
	for _, name := range []string{"version", "keygen"} {
		c, _, _ := root.Find([]string{name})
		annotate(c, configNone)
	}
	for _, name := range []string{"serve", "sim", "bench", "healthcheck"} {
		c, _, _ := root.Find([]string{name})
		annotate(c, configNoDevConn)
	}
	rejectUnknownSubcommands(root)
	return root
}

func annotate(c *cobra.Command, mode string) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[annConfig] = mode
}

// rejectUnknownSubcommands makes a group of commands (app, token, …)
// given an unknown subcommand a usage error, where cobra would print the
// help and exit 0.
func rejectUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		rejectUnknownSubcommands(sub)
	}
	if !c.HasSubCommands() || c.Runnable() || c.Parent() == nil {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Errorf("unknown command %q for %q (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())}
		}
		return cmd.Help()
	}
}

// conf is the resolved configuration; before (or without) the root's
// PersistentPreRunE, the defaults and the environment.
func (g *globals) conf() *loadedConfig {
	if g.cfg == nil {
		lc, err := LoadConfig(configInput{Getenv: g.env.Getenv})
		if err != nil {
			lc = &loadedConfig{Config: NewConfig(), Source: map[string]string{}}
		}
		g.cfg = lc
	}
	return g.cfg
}

// dsn returns the database DSN: --db, WXNOTIFY_DB, the file, or the default.
func (g *globals) dsn() string {
	return cmp.Or(g.db, g.conf().Database.DSN)
}

func (g *globals) openStore(ctx context.Context) (store.Driver, error) {
	st, err := storeopen.Open(ctx, g.dsn())
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return st, nil
}

// box returns the sealing box for secrets: the key from WXNOTIFY_SECRET_KEY,
// else from the file of secrets.key_file (WXNOTIFY_SECRET_KEY_FILE, the
// configuration file). A key that is missing or malformed exits 5.
func (g *globals) box() (*seal.Box, error) {
	var key []byte
	var err error
	if v := g.env.Getenv(seal.EnvKey); v != "" {
		key, err = seal.KeyFromEnv(func(k string) string {
			if k == seal.EnvKey {
				return v
			}
			return ""
		})
	} else if path := g.conf().Secrets.KeyFile; path != "" {
		key, err = seal.KeyFromFile(path)
	} else {
		err = seal.ErrNoKey
	}
	if err != nil {
		return nil, keyError{err}
	}
	box, err := seal.New(key)
	if err != nil {
		return nil, keyError{err}
	}
	return box, nil
}

// keySource says where box's key came from, for messages.
func (g *globals) keySource() string {
	if g.env.Getenv(seal.EnvKey) != "" {
		return seal.EnvKey
	}
	c := g.conf()
	return "secrets.key_file " + c.Secrets.KeyFile + ", " + c.Source["secrets.key_file"]
}

// wechatURL is WeChat's API base URL: the real one unless the
// configuration points at the simulator (wechat.base_url,
// WXNOTIFY_WECHAT_URL).
func (g *globals) wechatURL() string {
	return g.conf().WeChat.BaseURL
}

func (g *globals) logger() *slog.Logger {
	c := g.conf()
	return newLogger(g.env.Stderr, cmp.Or(g.logLevel, c.Log.Level), c.Log.Format)
}

// newLogger logs at level in format ("json" or "text") to w.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: durationText}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// durationText writes durations with their unit ("1.5s"), where the JSON
// handler would write nanoseconds ("retry_in":1500000000).
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

func newKeygenCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Print a new random secret key for WXNOTIFY_SECRET_KEY",
		Long: "Print a new random 32-byte key, base64. wxnotify encrypts app secrets and access_tokens at rest\n" +
			"with it (AES-256-GCM). Keep it outside the database: in WXNOTIFY_SECRET_KEY or a file named by\n" +
			"WXNOTIFY_SECRET_KEY_FILE. Losing it means re-adding every app's secret.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(g.env.Stdout, seal.GenerateKey())
			return nil
		},
	}
}

func newMigrateCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database schema (serve does this on start too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := g.openStore(ctx) // opening applies pending migrations
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.Migrate(ctx); err != nil {
				return err
			}
			fmt.Fprintf(g.env.Stdout, "database %s (%s) is up to date\n", redactDSN(g.dsn()), st.Engine())
			return nil
		},
	}
}
