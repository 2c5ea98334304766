package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/apikey"
	"github.com/wxnotify/wxnotify/token"
)

func newServeCommand(g *globals) *cobra.Command {
	var o instanceOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run wxnotify: the HTTP APIs, the delivery pipeline and the built-in scheduled jobs",
		Long: "Run wxnotify. It migrates the database, then serves the HTTP APIs on --addr, delivers queued messages,\n" +
			"and runs the built-in scheduled work (token refresh ahead of expiry, lease recovery, expiry, purges)\n" +
			"until SIGINT/SIGTERM, when it stops accepting, finishes the sends in flight and exits.\n" +
			"Several instances may share one PostgreSQL database. Every tunable can be set in a --config file\n" +
			"(docs/configuration.md); flags override the environment, which overrides the file.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := g.loadConfig(cmd) // flags > env > --config file > defaults
			if err != nil {
				return err
			}
			opts := cfg.instanceOptions()
			opts.Holder = o.Holder
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			// A wrong key would start, report ready and fail every token
			// fetch: refuse to start instead (exit 5).
			box, err := g.box()
			if err != nil {
				return err
			}
			if err := (&token.AppService{Store: st, Box: box}).CheckKey(ctx); err != nil {
				return fmt.Errorf("the secret key (%s) does not open the stored app secrets: %w; start serve with the key the apps were added with", g.keySource(), err)
			}
			in, err := g.newInstance(st, opts)
			if err != nil {
				return err
			}
			return in.run(ctx, func(url string) { fmt.Fprintf(g.env.Stdout, "wxnotify listening on %s\n", url) })
		},
	}
	addSettingFlags(cmd, "addr", "concurrency", "lease", "app-rate") // read by loadConfig
	cmd.Flags().StringVar(&o.Holder, "instance-name", "", "this instance's name in claims and leases (default random)")
	return cmd
}

func newAPIKeyCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "Create, list and revoke API keys of your backend services"}
	var name string
	var apps []string
	create := &cobra.Command{
		Use:     "create",
		Short:   "Create an API key scoped to apps; the key is printed once and stored only as a hash",
		Example: "  wxnotify apikey create --name order-service --app wx0123456789abcdef",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			k := &wxnotify.APIKey{Name: name, Apps: apps}
			for _, a := range apps {
				if a == wxnotify.AllApps {
					continue
				}
				if _, err := (&token.AppService{Store: st}).FindAppByID(ctx, a); err != nil {
					return err
				}
			}
			plain, err := (&apikey.Service{Store: st}).CreateAPIKey(ctx, k)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(struct {
					*wxnotify.APIKey
					Key string `json:"key"`
				}{k, plain})
			}
			fmt.Fprintf(g.env.Stdout, "%s\n", plain)
			fmt.Fprintf(g.env.Stderr, "API key %s created for %s (apps: %s). Store it now: it is not shown again.\n", k.ID, k.Name, strings.Join(k.Apps, ","))
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "which service holds the key (required)")
	create.Flags().StringArrayVar(&apps, "app", nil, "appid the key may act for (repeatable; \"*\" for all apps)")
	list := &cobra.Command{
		Use: "list", Aliases: []string{"ls"}, Short: "List API keys (never their secrets)", Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			keys, err := (&apikey.Service{Store: st}).FindAPIKeys(ctx)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(keys)
			}
			tw := newTable(g.env.Stdout)
			fmt.Fprintln(tw, "ID\tNAME\tAPPS\tCREATED")
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Apps, ","), fmtTime(k.CreatedAt))
			}
			return tw.Flush()
		},
	}
	rm := &cobra.Command{
		Use: "rm ID", Aliases: []string{"revoke"}, Short: "Revoke an API key", Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := (&apikey.Service{Store: st}).DeleteAPIKey(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.env.Stdout, "API key %s revoked\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, rm)
	return cmd
}
