package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/client"
)

func newSendCommand(g *globals) *cobra.Command {
	var (
		p       client.SendParams
		data    []string
		sendAt  string
		kind    string
		wait    bool
		timeout time.Duration
		rem     *remote
	)
	cmd := &cobra.Command{
		Use:   "send",
		Short: "Send one message through a running wxnotify and print its id",
		Long: "Queue one message on a running wxnotify (--url, --api-key) and print its id. With --wait, follow it\n" +
			"until it is terminal, print its state, and exit 0 only if it was delivered (7 otherwise; 8 when\n" +
			"--timeout runs out first).",
		Example: "  wxnotify send --app wx0123456789abcdef --openid oUSER… --template TPL --data thing1=书 --data time2='2026-11-25 10:00' --wait",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := requireFlags(cmd, "app", "openid", "template"); err != nil {
				return err
			}
			var err error
			if p.Data, err = parseData("data", data); err != nil {
				return err
			}
			if p.SendAt, err = parseSendAt(sendAt, time.Now()); err != nil {
				return err
			}
			if p.Kind, err = parseKind(kind); err != nil {
				return err
			}
			c, err := rem.client()
			if err != nil {
				return err
			}
			res, err := c.SendMessage(ctx, &p)
			if err != nil {
				return err
			}
			if !wait {
				if g.json {
					return g.printJSON(res)
				}
				fmt.Fprintln(g.env.Stdout, res.ID)
				return nil
			}
			if !g.json {
				fmt.Fprintln(g.env.Stdout, res.ID)
			}
			wctx := ctx
			if timeout > 0 {
				var cancel context.CancelFunc
				wctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			m, attempts, err := c.WaitMessage(wctx, res.ID, 200*time.Millisecond)
			if err != nil && ctx.Err() == nil && errors.Is(wctx.Err(), context.DeadlineExceeded) {
				return timeoutError{fmt.Errorf("message %d did not end within --timeout %s; it may still be delivered (wxnotify messages show %d)", res.ID, timeout, res.ID)}
			} else if err != nil {
				return fmt.Errorf("wait for message %d: %w", res.ID, err)
			}
			if g.json {
				if err := g.printJSON(messageJSON{Message: m, AttemptList: attempts}); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(g.env.Stdout, m.State)
			}
			if m.State != wxnotify.MessageDelivered {
				return undeliveredError{fmt.Sprintf("message %d ended %s: %s", m.ID, m.State, orDash(m.LastError))}
			}
			return nil
		},
	}
	rem = g.addRemoteFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&p.AppID, "app", "", "appid to send as (required)")
	f.StringVar(&p.OpenID, "openid", "", "the user's openid (required)")
	f.StringVar(&p.TemplateID, "template", "", "template id (required)")
	f.StringVar(&kind, "kind", "", "subscribe (default) or template (legacy, spends a form_id)")
	f.StringArrayVar(&data, "data", nil, "keyword=value, repeated: --data thing1=书 --data time2=…")
	f.StringVar(&p.Page, "page", "", "mini program page opened from the message")
	f.StringVar(&sendAt, "send-at", "", "send later: RFC 3339 time or a delay such as 10m")
	f.DurationVar(&p.TTL, "ttl", 0, "how long to keep trying (default the server's, 24h)")
	f.BoolVar(&p.WaitForCredit, "wait-for-credit", false, "wait for the user to grant a credit instead of ending no_credit")
	f.StringVar(&p.IdempotencyKey, "idempotency-key", "", "a retried send with the same key returns the first message")
	f.BoolVar(&wait, "wait", false, "wait until the message is terminal; exit 0 only if delivered")
	f.DurationVar(&timeout, "timeout", 0, "with --wait, give up after this long (default: wait as long as it takes)")
	return cmd
}

// messageJSON is a message with its attempts, as GET /v1/messages/{id}
// answers it.
type messageJSON struct {
	*wxnotify.Message
	AttemptList []*wxnotify.Attempt `json:"attempt_list"`
}
