package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
)

// newHealthcheckCommand is the container's HEALTHCHECK: images without a
// shell or curl (distroless, scratch) run the binary itself. It asks the
// serve on this host, at the configured http.addr, and exits 0 when it
// answers 200, 6 (unavailable) otherwise; Docker counts any non-zero exit as
// unhealthy.
func newHealthcheckCommand(g *globals) *cobra.Command {
	var url, path string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Ask the local serve whether it is ready; exit 0 when it is (a container's HEALTHCHECK)",
		Long: "Ask the serve on this host for /readyz (or --path /healthz) at the configured http.addr, as serve\n" +
			"reads it (flag > env WXNOTIFY_HTTP_ADDR > --config file > default); an address on every interface\n" +
			"(\":8080\", \"0.0.0.0:8080\") is asked on loopback. Exits 0 and prints the answer when it is 200,\n" +
			"6 (unavailable) when it is anything else or does not come within --timeout. For images that have\n" +
			"no shell or curl: HEALTHCHECK CMD [\"wxnotify\", \"healthcheck\"].",
		Example: "  wxnotify healthcheck\n  wxnotify healthcheck --path /healthz\n  wxnotify healthcheck --url http://127.0.0.1:8080/readyz",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				cfg, err := g.loadConfig(cmd)
				if err != nil {
					return err
				}
				if url, err = healthcheckURL(cfg.HTTP.Addr, path); err != nil {
					return err
				}
			}
			body, err := healthcheck(cmd.Context(), url, timeout)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.env.Stdout, body)
			return nil
		},
	}
	addSettingFlags(cmd, "addr") // read by loadConfig
	cmd.Flags().StringVar(&path, "path", "/readyz", "what to ask: /readyz (every dependency works: database, secret key, WeChat) or /healthz (the process answers)")
	cmd.Flags().StringVar(&url, "url", "", "ask this URL instead of the configured address")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long (keep it below the HEALTHCHECK --timeout)")
	return cmd
}

// healthcheckURL turns a listen address into the URL to ask on this host.
func healthcheckURL(addr, path string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", usageError{fmt.Errorf("http.addr %q is not host:port: %w", addr, err)}
	}
	if port == "0" {
		return "", usageError{fmt.Errorf("http.addr %q has port 0, a free port chosen when serve starts: pass --url", addr)}
	}
	if !strings.HasPrefix(path, "/") {
		return "", usageError{fmt.Errorf("--path %q: want an absolute path such as /readyz", path)}
	}
	switch ip := net.ParseIP(host); {
	case host == "", ip != nil && ip.To4() != nil && ip.IsUnspecified():
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}

// healthcheck GETs url without any proxy and returns the body of a 200. Any
// other answer, or none within timeout, is EUNAVAILABLE.
func healthcheck(ctx context.Context, url string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", usageError{fmt.Errorf("--url: %w", err)}
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return "", wxnotify.Errorf(wxnotify.EUNAVAILABLE, "%s: no answer: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096)) // Docker keeps 4 KiB of a probe's output
	body := strings.TrimSpace(string(b))
	if resp.StatusCode != http.StatusOK {
		return "", wxnotify.Errorf(wxnotify.EUNAVAILABLE, "%s: %s: %s", url, resp.Status, body)
	}
	return body, nil
}
