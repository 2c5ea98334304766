package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/token"
	"github.com/wxnotify/wxnotify/wechat"
)

// tokenService builds the token service over an open store.
func (g *globals) tokenService(st store.Driver) (*token.Service, error) {
	box, err := g.box()
	if err != nil {
		return nil, err
	}
	client := wechat.New(wechat.Options{BaseURL: g.wechatURL()})
	return &token.Service{Store: st, Box: box, Fetcher: token.WeChatFetcher{Client: client}, Logger: g.logger()}, nil
}

func newTokenCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Read access_tokens from the central token service",
		Long: "wxnotify holds each app's access_token: one fetch per token lifetime however many instances run.\n" +
			"Other services get the token from GET /v1/apps/{appid}/access_token (API key) or from here, and\n" +
			"never call /cgi-bin/token themselves. WeChat is reached at wechat.base_url (WXNOTIFY_WECHAT_URL, the\n" +
			"configuration file; default the real API).",
	}
	get := &cobra.Command{
		Use:   "get APPID",
		Short: "Print a valid access_token for the app (fetching one only if none is valid)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			svc, err := g.tokenService(st)
			if err != nil {
				return err
			}
			t, err := svc.Token(ctx, args[0])
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(struct {
					AppID       string    `json:"appid"`
					AccessToken string    `json:"access_token"`
					ExpiresAt   time.Time `json:"expires_at"`
				}{t.AppID, t.Value.Reveal(), t.ExpiresAt})
			}
			fmt.Fprintln(g.env.Stdout, t.Value.Reveal())
			return nil
		},
	}
	status := &cobra.Command{
		Use:   "status [APPID]",
		Short: "Show each app's token health: expiry, next refresh, fetches, last error (never the token)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			d := g.conf().Delivery
			svc := &token.Service{Store: st, DailyLimit: func(kind string) int64 {
				if kind == string(wxnotify.MessageTemplate) {
					return int64(d.DailyTemplateLimit)
				}
				return int64(d.DailySubscribeLimit)
			}}
			ids := args
			if len(ids) == 0 {
				apps, err := (&token.AppService{Store: st}).FindApps(ctx)
				if err != nil {
					return err
				}
				for _, a := range apps {
					ids = append(ids, a.AppID)
				}
			}
			var all []*wxnotify.TokenStatus
			for _, id := range ids {
				s, err := svc.Status(ctx, id)
				if err != nil {
					return err
				}
				all = append(all, s)
			}
			if g.json {
				return g.printJSON(all)
			}
			tw := newTable(g.env.Stdout)
			fmt.Fprintln(tw, "APPID\tMODE\tTOKEN\tEXPIRES\tNEXT REFRESH\tFETCHES\tSENT TODAY\tLAST ERROR")
			for _, s := range all {
				health := "none"
				if s.HasToken {
					health = "valid"
					if !time.Now().Before(s.ExpiresAt) {
						health = "expired"
					}
				}
				var sent []string
				for _, d := range s.SentToday {
					sent = append(sent, fmt.Sprintf("%s %d/%d", d.Kind, d.Sent, d.Limit))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.AppID, s.Mode, health, fmtTime(s.ExpiresAt), fmtTime(s.RefreshAt), s.Fetches, strings.Join(sent, ", "), s.LastError)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(get, status)
	return cmd
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}
