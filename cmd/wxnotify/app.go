package main

import (
	"bufio"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/token"
	"github.com/wxnotify/wxnotify/wechat"
)

func newAppCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "app", Short: "Register, list and remove mini programs"}
	var name, mode string
	var secretStdin, noCheck bool
	add := &cobra.Command{
		Use:   "add APPID",
		Short: "Register a mini program; the AppSecret is read from stdin or WXNOTIFY_APP_SECRET, never from a flag",
		Long: "Register a mini program. The AppSecret is read from the first line of standard input (or from\n" +
			"WXNOTIFY_APP_SECRET) so that it never lands in shell history or a process list. It is encrypted\n" +
			"with WXNOTIFY_SECRET_KEY before it is stored and is never printed.",
		Example: "  printf '%s\\n' \"$APP_SECRET\" | wxnotify app add wx0123456789abcdef --name shop",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			secret := g.env.Getenv("WXNOTIFY_APP_SECRET")
			if secret == "" || secretStdin {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && line == "" {
					return wxnotify.FieldErrorf("secret", "no AppSecret on standard input (or in WXNOTIFY_APP_SECRET)")
				}
				secret = strings.TrimSpace(line)
			}
			box, err := g.box()
			if err != nil {
				return err
			}
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			app := &wxnotify.App{AppID: args[0], Name: name, Secret: wxnotify.Secret(secret), TokenMode: wxnotify.TokenMode(mode)}
			apps := &token.AppService{Store: st, Box: box}
			if !noCheck {
				// One token fetch: a wrong appid or secret is refused now,
				// not reported later as "unavailable" on every send.
				apps.Check = token.WeChatFetcher{Client: wechat.New(wechat.Options{BaseURL: g.wechatURL()})}
			}
			if err := apps.CreateApp(ctx, app); wxnotify.ErrorCode(err) == wxnotify.EUNAVAILABLE {
				return fmt.Errorf("%w (register it unchecked with --no-check)", err)
			} else if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(app)
			}
			fmt.Fprintf(g.env.Stdout, "app %s added (token mode %s)\n", app.AppID, app.TokenMode)
			return nil
		},
	}
	add.Flags().StringVar(&name, "name", "", "display name")
	add.Flags().StringVar(&mode, "token-mode", string(wxnotify.TokenModeStable), "how to fetch access_token: stable (POST /cgi-bin/stable_token) or legacy (GET /cgi-bin/token)")
	add.Flags().BoolVar(&secretStdin, "secret-stdin", false, "read the AppSecret from stdin even if WXNOTIFY_APP_SECRET is set")
	add.Flags().BoolVar(&noCheck, "no-check", false, "store the app without fetching one token to check the appid and secret (WeChat unreachable from here)")

	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List registered mini programs",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			apps, err := (&token.AppService{Store: st}).FindApps(ctx)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(apps)
			}
			tw := newTable(g.env.Stdout)
			fmt.Fprintln(tw, "APPID\tNAME\tTOKEN MODE\tADDED")
			for _, a := range apps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.AppID, a.Name, a.TokenMode, a.CreatedAt.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
	rm := &cobra.Command{
		Use:     "rm APPID",
		Aliases: []string{"remove"},
		Short:   "Remove a mini program and its stored token",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := (&token.AppService{Store: st}).DeleteApp(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.env.Stdout, "app %s removed\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(add, list, rm, newAppCallbackCommand(g))
	return cmd
}

// exactArgs is cobra.ExactArgs with the usage exit code.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// redactDSN hides a password in a DSN before it is printed.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}
