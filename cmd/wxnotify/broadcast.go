package main

import (
	"fmt"
	"io"
	"iter"
	"maps"
	"math"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/client"
)

func newBroadcastCommand(g *globals) *cobra.Command {
	var (
		p        client.BroadcastParams
		data     []string
		sendAt   string
		kind     string
		csvPath  string
		interval time.Duration
		detach   bool
		rem      *remote
	)
	cmd := &cobra.Command{
		Use:   "broadcast",
		Short: "Send one template to every user of a CSV file, then follow delivery with a progress bar",
		Long: "Stream the recipients of a CSV file to a running wxnotify (--url, --api-key) as one broadcast, never\n" +
			"holding them all in memory. The CSV has a header row with an openid column; any other column is a\n" +
			"keyword (thing1, …) whose non-empty cells override --data for that row's user.\n\n" +
			"Then it polls the broadcast, drawing a progress bar on stderr, until no message is pending, and prints\n" +
			"a summary by outcome (JSON with --json). Exit code 0 only if every message was delivered; 7 if any\n" +
			"ended otherwise (failed, no_credit, expired, …); 3 if the CSV or a recipient was rejected (the\n" +
			"messages stored before it are still sent).",
		Example: "  wxnotify broadcast --app wx0123456789abcdef --template TPL --data thing1=周末特价 --csv users.csv",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := requireFlags(cmd, "app", "template", "csv"); err != nil {
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
			var in io.Reader = os.Stdin
			if csvPath != "-" {
				f, err := os.Open(csvPath)
				if err != nil {
					return usageError{fmt.Errorf("--csv: %w", err)}
				}
				defer f.Close()
				in = f
			}
			stderr := g.env.Stderr

			upload := newBar(stderr, -1, "uploading recipients")
			res, err := c.CreateBroadcast(ctx, &p, counted(client.CSVRecipients(in), upload))
			_ = upload.Finish()
			fmt.Fprintln(stderr)
			if err != nil {
				if res != nil && res.ID > 0 {
					fmt.Fprintf(stderr, "broadcast %d aborted: the messages stored before the error are still sent (wxnotify messages ls --broadcast %d)\n", res.ID, res.ID)
				}
				return err
			}
			fmt.Fprintf(stderr, "broadcast %d: %s accepted\n", res.ID, plural(res.Accepted, "message", "messages"))
			if detach {
				if g.json {
					return g.printJSON(res)
				}
				fmt.Fprintln(g.env.Stdout, res.ID)
				return nil
			}

			b, err := followBroadcast(cmd, c, res.ID, res.Accepted, interval, stderr)
			if err != nil {
				return err
			}
			return g.printBroadcastSummary(b)
		},
	}
	rem = g.addRemoteFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&p.AppID, "app", "", "appid to send as (required)")
	f.StringVar(&p.TemplateID, "template", "", "template id (required)")
	f.StringVar(&kind, "kind", "", "subscribe (default) or template (legacy, spends a form_id)")
	f.StringArrayVar(&data, "data", nil, "keyword=value for every recipient, repeated")
	f.StringVar(&csvPath, "csv", "", "CSV file of recipients, - for stdin (required)")
	f.StringVar(&p.Page, "page", "", "mini program page opened from the message")
	f.StringVar(&sendAt, "send-at", "", "send later: RFC 3339 time or a delay such as 10m")
	f.DurationVar(&p.TTL, "ttl", 0, "how long to keep trying each message (default the server's, 24h)")
	f.BoolVar(&p.WaitForCredit, "wait-for-credit", false, "wait for users to grant a credit instead of ending no_credit")
	f.DurationVar(&interval, "interval", 500*time.Millisecond, "how often to poll the broadcast's progress")
	f.BoolVar(&detach, "detach", false, "print the broadcast id once accepted and exit, without following delivery")
	return cmd
}

// newBar returns a progress bar on w; max -1 is a spinner. The unit and
// the rate are in the description (rate): the bar's own rate reads "0
// msg/hr" before the first message and has no plural.
func newBar(w io.Writer, max int64, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(max > 0),
		progressbar.OptionSetElapsedTime(true),
	)
}

// rate is n done in elapsed as text, per second or per minute ("12
// messages/s", "1 message/min"), or "" before the first.
func rate(n int64, elapsed time.Duration, one, many string) string {
	if n <= 0 || elapsed <= 0 {
		return ""
	}
	per, unit := float64(n)/elapsed.Seconds(), "s"
	if per < 1 {
		per, unit = per*60, "min"
	}
	noun := many
	if math.Round(per) == 1 {
		noun = one
	}
	return fmt.Sprintf("%.0f %s/%s", math.Max(per, 1), noun, unit)
}

// counted yields rs, advancing bar for each recipient.
func counted(rs iter.Seq2[wxnotify.BroadcastRecipient, error], bar *progressbar.ProgressBar) iter.Seq2[wxnotify.BroadcastRecipient, error] {
	return func(yield func(wxnotify.BroadcastRecipient, error) bool) {
		for r, err := range rs {
			if err == nil {
				_ = bar.Add(1)
			}
			if !yield(r, err) {
				return
			}
		}
	}
}

// followBroadcast polls the broadcast until none of its messages is
// pending, drawing progress on w, and returns its last state.
func followBroadcast(cmd *cobra.Command, c *client.Client, id, accepted int64, interval time.Duration, w io.Writer) (*wxnotify.Broadcast, error) {
	ctx := cmd.Context()
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	bar := newBar(w, max(accepted, 1), "delivering")
	start := time.Now()
	defer fmt.Fprintln(w)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		b, err := c.GetBroadcast(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("follow broadcast %d: %w", id, err)
		}
		if b.Total > 0 {
			bar.ChangeMax64(b.Total)
		}
		desc := describeCounts(b.Counts)
		if r := rate(b.Total-b.Pending, time.Since(start), "message", "messages"); r != "" {
			desc += " · " + r
		}
		bar.Describe(desc)
		_ = bar.Set64(b.Total - b.Pending)
		if b.Pending == 0 && b.State != wxnotify.BroadcastAccepting {
			_ = bar.Finish()
			return b, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// describeCounts is the bar's label: the terminal outcomes so far.
func describeCounts(counts map[wxnotify.MessageState]int64) string {
	var parts []string
	for _, s := range sortedStates(counts) {
		if s.Terminal() && counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, counts[s]))
		}
	}
	if len(parts) == 0 {
		return "delivering"
	}
	return strings.Join(parts, " · ")
}

// broadcastSummary is the --json form of a followed broadcast.
type broadcastSummary struct {
	ID          int64                           `json:"id"`
	State       wxnotify.BroadcastState         `json:"state"`
	Accepted    int64                           `json:"accepted"`
	Total       int64                           `json:"total"`
	Delivered   int64                           `json:"delivered"`
	Undelivered int64                           `json:"undelivered"`
	Counts      map[wxnotify.MessageState]int64 `json:"counts"`
	Error       string                          `json:"error,omitempty"`
}

// printBroadcastSummary prints the outcome of every message of b, and
// returns undeliveredError unless all were delivered.
func (g *globals) printBroadcastSummary(b *wxnotify.Broadcast) error {
	counts := b.Counts
	if counts == nil {
		counts = map[wxnotify.MessageState]int64{}
	}
	sum := broadcastSummary{
		ID: b.ID, State: b.State, Accepted: b.Accepted, Total: b.Total, Counts: counts,
		Delivered: counts[wxnotify.MessageDelivered], Error: b.Error,
	}
	sum.Undelivered = sum.Total - sum.Delivered
	if g.json {
		if err := g.printJSON(sum); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(g.env.Stdout, "broadcast %d: %s, %s\n", b.ID, b.State, plural(b.Total, "message", "messages"))
		tw := newTable(g.env.Stdout)
		fmt.Fprintln(tw, "OUTCOME\tMESSAGES")
		for _, s := range sortedStates(counts) {
			fmt.Fprintf(tw, "%s\t%d\n", s, counts[s])
		}
		fmt.Fprintf(tw, "total\t%d\n", b.Total)
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if sum.Undelivered > 0 || b.State == wxnotify.BroadcastAborted {
		undelivered := maps.Clone(counts)
		delete(undelivered, wxnotify.MessageDelivered)
		return undeliveredError{fmt.Sprintf("broadcast %d: %d of %s not delivered (%s)", b.ID, sum.Undelivered, plural(sum.Total, "message", "messages"), describeCounts(undelivered))}
	}
	return nil
}
