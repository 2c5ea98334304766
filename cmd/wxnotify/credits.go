package main

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/client"
)

func newCreditsCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "credits",
		Short: "Inspect the send-credit ledger of a running wxnotify",
	}
	rem := g.addRemoteFlags(cmd)
	var (
		p    client.StatsParams
		kind string
	)
	stats := &cobra.Command{
		Use:   "stats",
		Short: "Count an app's usable credits per kind and template, or per user with --openid",
		Example: "  wxnotify credits stats --app wx0123456789abcdef\n" +
			"  wxnotify credits stats --app wx0123456789abcdef --expiring-within 24h",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "app"); err != nil {
				return err
			}
			c, err := rem.client()
			if err != nil {
				return err
			}
			if p.Kind, err = flagChoice("kind", kind, wxnotify.CreditFormID, wxnotify.CreditPrepayID, wxnotify.CreditSubscribe, wxnotify.CreditLongTerm); err != nil {
				return err
			}
			stocks, err := c.CreditStats(cmd.Context(), p)
			if err != nil {
				return err
			}
			if g.json {
				if stocks == nil {
					stocks = []*wxnotify.CreditStock{}
				}
				return g.printJSON(stocks)
			}
			tw := newTable(g.env.Stdout)
			fmt.Fprintln(tw, "APPID\tOPENID\tKIND\tTEMPLATE\tCREDITS\tUSES\tREJECTIONS")
			var credits, uses int64
			for _, s := range stocks {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\n", s.AppID, orDash(s.OpenID), s.Kind, orDash(s.TemplateID), s.Credits, s.Uses, s.Rejections)
				credits += s.Credits
				uses += s.Uses
			}
			fmt.Fprintf(tw, "total\t\t\t\t%d\t%d\t\n", credits, uses)
			return tw.Flush()
		},
	}
	f := stats.Flags()
	f.StringVar(&p.AppID, "app", "", "appid (required)")
	f.StringVar(&p.OpenID, "openid", "", "count this user's credits")
	f.StringVar(&p.TemplateID, "template", "", "only this subscribe template")
	f.StringVar(&kind, "kind", "", "only this kind: form_id, prepay_id, subscribe, long_term")
	f.DurationVar(&p.ExpiringWithin, "expiring-within", 0, "only credits that expire within this, e.g. 24h")
	cmd.AddCommand(stats, newCreditsAddCommand(g, rem))
	return cmd
}

// newCreditsAddCommand registers prepay_ids (or form_ids) for a user: the
// backend gets prepay_ids from WeChat Pay, not the page.
func newCreditsAddCommand(g *globals, rem *remote) *cobra.Command {
	var appID, openID, kind string
	add := &cobra.Command{
		Use:   "add VALUE...",
		Short: "Register prepay_ids (3 sends each) or form_ids (1 send) the backend holds for a user",
		Example: "  wxnotify credits add --app wx0123456789abcdef --openid oUSER --kind prepay_id wx201410272009395522657a690389285100\n" +
			"  wxnotify credits add --app wx0123456789abcdef --openid oUSER --kind form_id FORMID1 FORMID2",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, values []string) error {
			if err := requireFlags(cmd, "app", "openid"); err != nil {
				return err
			}
			c, err := rem.client()
			if err != nil {
				return err
			}
			n, err := c.AddCredits(cmd.Context(), appID, openID, wxnotify.CreditKind(kind), values...)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(&wxnotify.CreditAddResponse{Added: n})
			}
			fmt.Fprintf(g.env.Stdout, "added %d of %d\n", n, len(values))
			return nil
		},
	}
	f := add.Flags()
	f.StringVar(&appID, "app", "", "appid (required)")
	f.StringVar(&openID, "openid", "", "the user the credits are for (required)")
	f.StringVar(&kind, "kind", string(wxnotify.CreditPrepayID), "prepay_id or form_id")
	return add
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
