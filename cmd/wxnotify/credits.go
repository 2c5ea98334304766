package main

import (
	"fmt"
	"sort"
	"text/tabwriter"

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
			p.Kind = wxnotify.CreditKind(kind)
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
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
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
	cmd.AddCommand(stats)
	return cmd
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
