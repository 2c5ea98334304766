package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/storeopen"
)

// Exit codes, so scripts can tell failures apart.
const (
	exitOK       = 0
	exitError    = 1 // anything else: a bug, the database, WeChat
	exitUsage    = 2 // bad flags or arguments
	exitInvalid  = 3 // input rejected (EINVALID, ECONFLICT)
	exitNotFound = 4 // ENOTFOUND
	exitAuth     = 5 // EUNAUTHORIZED, EFORBIDDEN, a missing or wrong secret key
	exitUnavail  = 6 // EUNAVAILABLE: retry later
)

// DefaultDB is the database used when neither --db nor WXNOTIFY_DB is set.
const DefaultDB = "sqlite://wxnotify.db"

// Env is what a command may touch of the process, so tests can run commands
// in-process.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// globals are the flags every command shares.
type globals struct {
	env      *Env
	config   string
	db       string
	logLevel string
	json     bool
}

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
	fmt.Fprintln(env.Stderr, "error:", userMessage(err))
	return exitCode(err)
}

type usageError struct{ error }

func exitCode(err error) int {
	var ue usageError
	var nd undeliveredError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &nd):
		return exitUndelivered
	case errors.Is(err, seal.ErrNoKey), errors.Is(err, seal.ErrWrongKey):
		return exitAuth
	}
	switch wxnotify.ErrorCode(err) {
	case wxnotify.EINVALID, wxnotify.ECONFLICT:
		return exitInvalid
	case wxnotify.ENOTFOUND:
		return exitNotFound
	case wxnotify.EUNAUTHORIZED, wxnotify.EFORBIDDEN:
		return exitAuth
	case wxnotify.EUNAVAILABLE:
		return exitUnavail
	}
	return exitError
}

// userMessage prints domain errors without the Go-internal prefix.
func userMessage(err error) string {
	var e *wxnotify.Error
	if errors.As(err, &e) {
		if e.Field != "" {
			return e.Field + ": " + e.Message
		}
		return e.Message
	}
	return err.Error()
}

func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "wxnotify",
		Short:         "Reliable WeChat mini-program notifications: tokens, templates, credits, delivery",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		if strings.Contains(err.Error(), "unknown shorthand flag") {
			// WeChat's template ids may start with '-'.
			err = fmt.Errorf("%w (an argument that starts with '-', such as a template id, goes after --)", err)
		}
		return usageError{err}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&g.config, "config", "", "configuration file, TOML (env "+EnvConfig+"; see docs/configuration.md)")
	pf.StringVar(&g.db, "db", "", "database DSN: sqlite://PATH or postgres://… (env WXNOTIFY_DB; default "+DefaultDB+")")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.BoolVar(&g.json, "json", false, "print JSON instead of text, for scripts")
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
	)
	return root
}

// dsn returns the database DSN from --db, WXNOTIFY_DB or the default.
func (g *globals) dsn() string {
	if g.db != "" {
		return g.db
	}
	if v := g.env.Getenv("WXNOTIFY_DB"); v != "" {
		return v
	}
	return DefaultDB
}

func (g *globals) openStore(ctx context.Context) (store.Driver, error) {
	st, err := storeopen.Open(ctx, g.dsn())
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return st, nil
}

// box returns the sealing box for secrets from the environment.
func (g *globals) box() (*seal.Box, error) {
	key, err := seal.KeyFromEnv(g.env.Getenv)
	if err != nil {
		return nil, err
	}
	return seal.New(key)
}

func (g *globals) logger() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(g.env.Stderr, &slog.HandlerOptions{Level: lvl}))
}

func newVersionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(g.env.Stdout, "wxnotify", version())
			return nil
		},
	}
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
