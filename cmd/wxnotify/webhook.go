package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/webhook"
)

// newWebhooksCommand is `wxnotify webhooks`: the events a webhook has not
// taken yet, read from the database (as app and apikey are), and the
// replay of dead ones, which the server's webhook_delivery job then sends
// within a second.
func newWebhooksCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "webhooks", Short: "List webhooks, their undelivered events, and replay dead ones"}
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List webhooks with their pending and dead events",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := wxnotify.NewContextWithAPIKey(cmd.Context(), cliKey)
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			hooks, err := (&webhook.Service{Store: st}).FindWebhooks(ctx)
			if err != nil {
				return err
			}
			type row struct {
				*wxnotify.Webhook
				Pending int64 `json:"pending"`
				Dead    int64 `json:"dead"`
			}
			rows := make([]row, len(hooks))
			for i, h := range hooks {
				c, err := st.WebhookOutboxCounts(ctx, h.ID)
				if err != nil {
					return err
				}
				rows[i] = row{h, c[wxnotify.WebhookDeliveryPending], c[wxnotify.WebhookDeliveryDead]}
			}
			if g.json {
				return g.printJSON(rows)
			}
			tw := newTable(g.env.Stdout)
			fmt.Fprintln(tw, "ID\tAPPID\tURL\tPENDING\tDEAD")
			for _, r := range rows {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\n", r.ID, r.AppID, redactQuery(r.URL), r.Pending, r.Dead)
			}
			return tw.Flush()
		},
	}
	var state string
	var limit int
	deliveries := &cobra.Command{
		Use:   "deliveries WEBHOOK_ID",
		Short: "List a webhook's undelivered events, newest first (--state dead for those it gave up on)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := webhookID(args[0])
			if err != nil {
				return err
			}
			switch state {
			case "", wxnotify.WebhookDeliveryPending, wxnotify.WebhookDeliveryDead:
			default:
				return usageError{fmt.Errorf("--state %q: want pending or dead", state)}
			}
			ctx := wxnotify.NewContextWithAPIKey(cmd.Context(), cliKey)
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			ds, err := (&webhook.Service{Store: st}).FindWebhookDeliveries(ctx, id, wxnotify.WebhookDeliveryFilter{State: state, Limit: limit})
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(ds)
			}
			tw := newTable(g.env.Stdout)
			fmt.Fprintln(tw, "ID\tEVENT\tMESSAGE\tSTATE\tATTEMPTS\tCREATED\tLAST ERROR")
			for _, d := range ds {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%d\t%s\t%s\n", d.ID, d.Event, d.MessageID, d.State, d.Attempts,
					d.CreatedAt.Local().Format(time.DateTime), d.LastError)
			}
			return tw.Flush()
		},
	}
	deliveries.Flags().StringVar(&state, "state", "", "only pending or dead events")
	deliveries.Flags().IntVar(&limit, "limit", wxnotify.DefaultWebhookDeliveryPage, fmt.Sprintf("at most this many (1 to %d)", wxnotify.MaxWebhookDeliveryPage))
	replay := &cobra.Command{
		Use:   "replay WEBHOOK_ID [DELIVERY_ID...]",
		Short: "Send dead events again (all of the webhook's, or those named); a running server sends them within a second",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return usageError{fmt.Errorf("a webhook id is required (wxnotify webhooks list)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := webhookID(args[0])
			if err != nil {
				return err
			}
			var ids []int64
			for _, a := range args[1:] {
				n, err := strconv.ParseInt(a, 10, 64)
				if err != nil || n <= 0 {
					return usageError{fmt.Errorf("delivery id %q: want a number (wxnotify webhooks deliveries %d --state dead)", a, id)}
				}
				ids = append(ids, n)
			}
			ctx := wxnotify.NewContextWithAPIKey(cmd.Context(), cliKey)
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			n, err := (&webhook.Service{Store: st}).ReplayWebhookDeliveries(ctx, id, ids)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(&wxnotify.WebhookReplayResponse{Replayed: n})
			}
			fmt.Fprintf(g.env.Stdout, "%s of webhook %d pending again\n", plural(n, "dead event", "dead events"), id)
			return nil
		},
	}
	cmd.AddCommand(list, deliveries, replay)
	return cmd
}

func webhookID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageError{fmt.Errorf("webhook id %q: want a number (wxnotify webhooks list)", s)}
	}
	return id, nil
}

// redactQuery drops a URL's query, which may carry a token of the
// receiver's.
func redactQuery(u string) string {
	for i, c := range u {
		if c == '?' || c == '#' {
			return u[:i]
		}
	}
	return u
}
