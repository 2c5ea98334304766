package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/apikey"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/ledger"
	"github.com/wxnotify/wxnotify/session"
	"github.com/wxnotify/wxnotify/token"
	"github.com/wxnotify/wxnotify/wechat"
)

func newServeCommand(g *globals) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run wxnotify: the HTTP API, the token service and the built-in scheduled jobs",
		Long: "Run wxnotify. It migrates the database, then serves the HTTP API on --addr and runs the built-in\n" +
			"scheduled work (token refresh ahead of expiry) until SIGINT/SIGTERM, when it shuts down gracefully.\n" +
			"Several instances may share one PostgreSQL database.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			log := g.logger()
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			tokens, err := g.tokenService(st)
			if err != nil {
				return err
			}
			srv := wxhttp.NewServer()
			srv.Addr = addr
			srv.Logger = log
			apps := &token.AppService{Store: st, Box: tokens.Box}
			srv.AppService = apps
			srv.APIKeyService = &apikey.Service{Store: st}
			srv.TokenService = tokens
			// Mini-program surface and WeChat push callback.
			sessions := &session.Service{
				Store: st, Box: tokens.Box, Secrets: apps, Logger: log,
				WeChat: wechat.New(wechat.Options{BaseURL: g.wechatURL()}),
			}
			credits := &ledger.Service{Store: st, Logger: log}
			srv.SessionService = sessions
			srv.CreditService = credits
			srv.EventService = credits
			srv.CallbackConfigs = apps
			if err := srv.Open(); err != nil {
				return err
			}
			log.Info("wxnotify serving", "url", srv.URL(), "db", redactDSN(g.dsn()), "engine", st.Engine(), "wechat", g.wechatURL())
			fmt.Fprintf(g.env.Stdout, "wxnotify listening on %s\n", srv.URL())

			grp, gctx := errgroup.WithContext(ctx)
			grp.Go(func() error { return tokens.Run(gctx, 0) })
			grp.Go(func() error { sessions.RunPurge(gctx, 0); return nil })
			// TODO(lead): the ledger's purge job (credits.RunPurge) belongs to the credit change.
			<-gctx.Done()
			log.Info("wxnotify shutting down")
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			defer cancel()
			if err := srv.Close(sctx); err != nil {
				log.Error("http shutdown", "err", err)
			}
			return grp.Wait()
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address of the HTTP API")
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
				return json.NewEncoder(g.env.Stdout).Encode(struct {
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
				return json.NewEncoder(g.env.Stdout).Encode(keys)
			}
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
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
