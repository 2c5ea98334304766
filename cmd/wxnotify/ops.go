package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/client"
)

// The remote commands (send, broadcast, messages, credits) talk to a running
// wxnotify through the Go client; --db does not apply to them.

// DefaultURL is the server the remote commands talk to unless --url or
// WXNOTIFY_URL say otherwise.
const DefaultURL = "http://127.0.0.1:8080"

// exitUndelivered: send --wait or broadcast saw a message end in a terminal
// state other than delivered.
const exitUndelivered = 7

// undeliveredError reports messages that ended undelivered; Run exits with
// exitUndelivered for it.
type undeliveredError struct{ msg string }

func (e undeliveredError) Error() string { return e.msg }

// remote holds the flags of a command that calls the server.
type remote struct {
	g      *globals
	url    string
	apiKey string
}

// addRemoteFlags adds --url and --api-key to cmd.
func (g *globals) addRemoteFlags(cmd *cobra.Command) *remote {
	r := &remote{g: g}
	f := cmd.PersistentFlags()
	f.StringVar(&r.url, "url", "", "base URL of the wxnotify server (env WXNOTIFY_URL; default "+DefaultURL+")")
	f.StringVar(&r.apiKey, "api-key", "", "API key, wxk_… (env WXNOTIFY_API_KEY)")
	return r
}

// client returns a client of the server, or a usage error without a key.
func (r *remote) client() (*client.Client, error) {
	u := r.url
	if u == "" {
		u = r.g.env.Getenv("WXNOTIFY_URL")
	}
	if u == "" {
		u = DefaultURL
	}
	key := r.apiKey
	if key == "" {
		key = r.g.env.Getenv("WXNOTIFY_API_KEY")
	}
	if key == "" {
		return nil, usageError{fmt.Errorf("an API key is required: --api-key or WXNOTIFY_API_KEY (create one with `wxnotify apikey create`)")}
	}
	return client.New(u, key, client.WithUserAgent("wxnotify-cli/"+version())), nil
}

// requireFlags returns a usage error naming the first of names not set.
func requireFlags(cmd *cobra.Command, names ...string) error {
	for _, n := range names {
		if f := cmd.Flags().Lookup(n); f != nil && !f.Changed {
			return usageError{fmt.Errorf("--%s is required", n)}
		}
	}
	return nil
}

// parseData turns repeated k=v flags into a map.
func parseData(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError{fmt.Errorf("--%s %q: want keyword=value, e.g. thing1=书", flag, kv)}
		}
		out[k] = v
	}
	return out, nil
}

// parseSendAt reads an RFC 3339 time ("2026-11-25T10:00:00+08:00") or a
// delay from now ("10m").
func parseSendAt(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usageError{fmt.Errorf("--send-at %q: want RFC 3339 (2026-11-25T10:00:00+08:00) or a delay (10m)", s)}
	}
	return t, nil
}

func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.env.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// stateOrder lists message states in the order summaries print them.
var stateOrder = []wxnotify.MessageState{
	wxnotify.MessageDelivered, wxnotify.MessageFailed, wxnotify.MessageNoCredit, wxnotify.MessageExpired,
	wxnotify.MessageCancelled, wxnotify.MessageAmbiguous, wxnotify.MessageQueued, wxnotify.MessageWaitingCredit,
	wxnotify.MessageSending,
}

// sortedStates returns the states of counts in stateOrder, then any others
// by name.
func sortedStates(counts map[wxnotify.MessageState]int64) []wxnotify.MessageState {
	var out []wxnotify.MessageState
	seen := map[wxnotify.MessageState]bool{}
	for _, s := range stateOrder {
		if _, ok := counts[s]; ok {
			out = append(out, s)
			seen[s] = true
		}
	}
	var rest []wxnotify.MessageState
	for s := range counts {
		if !seen[s] {
			rest = append(rest, s)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i] < rest[j] })
	return append(out, rest...)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
