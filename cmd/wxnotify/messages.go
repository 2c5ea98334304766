package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/client"
)

func newMessagesCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "messages",
		Short: "List, show, cancel and retry messages on a running wxnotify",
	}
	rem := g.addRemoteFlags(cmd)

	var (
		lp    client.ListParams
		state string
	)
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List messages, newest first",
		Example: "  wxnotify messages ls --app wx0123456789abcdef --state failed\n" +
			"  wxnotify messages ls --broadcast 12 --limit 1000 --json",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if lp.State, err = flagChoice("state", state, stateOrder...); err != nil {
				return err
			}
			if lp.Limit < 1 || lp.Limit > 1000 {
				return usageError{fmt.Errorf("--limit %d: want 1 to 1000", lp.Limit)}
			}
			c, err := rem.client()
			if err != nil {
				return err
			}
			page, err := c.ListMessages(cmd.Context(), lp)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(page)
			}
			tw := newTable(g.env.Stdout)
			fmt.Fprintln(tw, "ID\tSTATE\tAPPID\tOPENID\tTEMPLATE\tATTEMPTS\tUPDATED\tLAST ERROR")
			for _, m := range page.Messages {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, m.State, m.AppID, m.OpenID, m.TemplateID, m.Attempts, fmtTime(m.UpdatedAt), orDash(m.LastError))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.NextBefore > 0 {
				fmt.Fprintf(g.env.Stderr, "more: --before %d\n", page.NextBefore)
			}
			return nil
		},
	}
	f := ls.Flags()
	f.StringVar(&lp.AppID, "app", "", "only this app")
	f.StringVar(&lp.OpenID, "openid", "", "only this user")
	f.StringVar(&state, "state", "", "only this state: queued, waiting_credit, sending, delivered, failed, no_credit, expired, cancelled, ambiguous")
	f.Int64Var(&lp.BroadcastID, "broadcast", 0, "only this broadcast's messages")
	f.Int64Var(&lp.Before, "before", 0, "only ids below this (the next page)")
	f.IntVar(&lp.Limit, "limit", 50, "messages per page, 1 to 1000")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a message with its attempts at WeChat",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			c, err := rem.client()
			if err != nil {
				return err
			}
			m, attempts, err := c.GetMessage(cmd.Context(), id)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(messageJSON{Message: m, AttemptList: attempts})
			}
			g.printMessage(m)
			if len(attempts) > 0 {
				fmt.Fprintln(g.env.Stdout)
				tw := newTable(g.env.Stdout)
				fmt.Fprintln(tw, "ATTEMPT\tAT\tERRCODE\tCLASS\tLATENCY\tERRMSG")
				for _, a := range attempts {
					fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%.0fms\t%s\n", a.N, fmtTime(a.At), a.ErrCode, orDash(a.Class), a.LatencyMS, orDash(a.ErrMsg))
				}
				return tw.Flush()
			}
			return nil
		},
	}

	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a message that is not yet being sent (exit 3 if it is sending or done)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			c, err := rem.client()
			if err != nil {
				return err
			}
			m, err := c.CancelMessage(cmd.Context(), id)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(m)
			}
			fmt.Fprintf(g.env.Stdout, "message %d %s\n", m.ID, m.State)
			return nil
		},
	}
	retry := &cobra.Command{
		Use:   "retry ID",
		Short: "Send a failed, no_credit or expired message again, with a fresh credit (exit 3 in any other state)",
		Long: "Queue a failed, no_credit or expired message again, due now: its next claim takes a fresh credit,\n" +
			"its time to live counts again from now and its attempt count starts again; its earlier attempts stay.\n" +
			"The retry is written to the audit log (wxnotify audit).",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			c, err := rem.client()
			if err != nil {
				return err
			}
			m, err := c.RetryMessage(cmd.Context(), id)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(m)
			}
			fmt.Fprintf(g.env.Stdout, "message %d %s\n", m.ID, m.State)
			return nil
		},
	}
	cmd.AddCommand(ls, show, cancel, retry)
	return cmd
}

func (g *globals) printMessage(m *wxnotify.Message) {
	tw := newTable(g.env.Stdout)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	row("id", strconv.FormatInt(m.ID, 10))
	row("state", string(m.State))
	row("appid", m.AppID)
	row("openid", m.OpenID)
	row("kind", string(m.Kind))
	row("template", m.TemplateID)
	for _, k := range sortedKeys(m.Data) {
		row("data."+k, m.Data[k])
	}
	row("page", m.Page)
	if !m.SendAt.IsZero() {
		row("send at", fmtTime(m.SendAt))
	}
	row("expires", fmtTime(m.ExpiresAt))
	if m.BroadcastID > 0 {
		row("broadcast", strconv.FormatInt(m.BroadcastID, 10))
	}
	if m.ScheduleID > 0 {
		row("schedule", strconv.FormatInt(m.ScheduleID, 10))
	}
	row("attempts", strconv.Itoa(m.Attempts))
	row("msgid", m.MsgID)
	row("last error", m.LastError)
	row("created", fmtTime(m.CreatedAt))
	row("updated", fmtTime(m.UpdatedAt))
	_ = tw.Flush()
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageError{fmt.Errorf("%q is not a message id", s)}
	}
	return id, nil
}
