package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify/wechatsim"
)

func newSimCommand(g *globals) *cobra.Command {
	var addr string
	var apps []string
	var latency, jitter time.Duration
	var callback string
	var inboxLimit int
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the WeChat API simulator (same paths, errcodes, quotas and expiry as WeChat)",
		Long: "Run the WeChat API simulator on ADDR. Point wxnotify (WXNOTIFY_WECHAT_URL) or any WeChat client at it.\n" +
			"Apps are registered with --app APPID:SECRET or POST /sim/apps; users' actions (wx.login codes, form_ids,\n" +
			"subscribe acceptances), the clock, faults and the inbox are driven through /sim/ (see its page).",
		Example: "  wxnotify sim --addr 127.0.0.1:9100 --app wx0123456789abcdef:secret",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			sim := wechatsim.New(wechatsim.Options{Latency: latency, LatencyJitter: jitter, CallbackURL: callback, InboxLimit: inboxLimit})
			for _, a := range apps {
				id, secret, ok := strings.Cut(a, ":")
				if !ok || id == "" || secret == "" {
					return usageError{fmt.Errorf("--app %q: want APPID:SECRET", a)}
				}
				sim.AddApp(wechatsim.App{AppID: id, Secret: secret})
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.env.Stdout, "WeChat simulator listening on http://%s (control: http://%s/sim/)\n", ln.Addr(), ln.Addr())
			return serveUntilDone(cmd.Context(), ln, sim)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:9100", "listen address")
	cmd.Flags().StringArrayVar(&apps, "app", nil, "register an app, APPID:SECRET (repeatable)")
	cmd.Flags().DurationVar(&latency, "latency", 0, "fixed latency added to every API call")
	cmd.Flags().DurationVar(&jitter, "latency-jitter", 0, "extra random latency, uniform in [0, jitter)")
	cmd.Flags().StringVar(&callback, "callback-url", "", "where push events are POSTed")
	cmd.Flags().IntVar(&inboxLimit, "inbox-limit", wechatsim.DefaultInboxLimit, "deliveries kept per user for inspection (counts stay exact)")
	return cmd
}

// serveUntilDone serves h on ln until ctx ends, then shuts down gracefully.
func serveUntilDone(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
