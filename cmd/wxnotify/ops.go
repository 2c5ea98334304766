package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/client"
)

// The remote commands (send, broadcast, messages, credits, jobs) talk to a
// running wxnotify through the Go client; --db does not apply to them.

// DefaultURL is the server the remote commands talk to unless the
// configuration (client.url: --url, WXNOTIFY_URL, the file, a running dev)
// says otherwise.
const DefaultURL = "http://127.0.0.1:8080"

// EnvAPIKey is the API key of the remote commands.
const EnvAPIKey = "WXNOTIFY_API_KEY"

// remote holds the flags of a command that calls the server.
type remote struct {
	g      *globals
	apiKey string
}

// addRemoteFlags adds --url and --api-key to cmd.
func (g *globals) addRemoteFlags(cmd *cobra.Command) *remote {
	r := &remote{g: g}
	f := cmd.PersistentFlags()
	addSettingFlagsTo(f, "url") // read by loadConfig
	f.StringVar(&r.apiKey, "api-key", "", "API key, wxk_… (env "+EnvAPIKey+", or a file named by client.api_key_file)")
	return r
}

// client returns a client of the server at client.url with the API key of
// --api-key, WXNOTIFY_API_KEY or client.api_key_file, in that order; no
// key exits 5.
func (r *remote) client() (*client.Client, error) {
	c := r.g.conf()
	key := cmp.Or(r.apiKey, r.g.env.Getenv(EnvAPIKey))
	if key == "" && c.Client.APIKeyFile != "" {
		b, err := os.ReadFile(c.Client.APIKeyFile)
		if err != nil {
			return nil, authError{fmt.Errorf("read the API key file (client.api_key_file, %s): %w", c.Source["client.api_key_file"], err)}
		}
		key = strings.TrimSpace(string(b))
	}
	if key == "" {
		return nil, authError{fmt.Errorf("an API key is required: --api-key, %s or client.api_key_file (create one with `wxnotify apikey create`; `wxnotify dev` makes one)", EnvAPIKey)}
	}
	return client.New(c.Client.URL, key, client.WithUserAgent("wxnotify-cli/"+version())), nil
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

// printJSON prints v as every command's JSON output: indented, with HTML
// characters unescaped.
func (g *globals) printJSON(v any) error { return writeJSON(g.env.Stdout, v) }

// writeJSON is the one JSON style of the CLI.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// plural writes n with its noun: "1 message", "2 messages".
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
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

// flagChoice returns v when it is "" or one of allowed, else a usage
// error naming the flag and the values it takes: a filter value nobody
// could match is a mistake, not an empty list.
func flagChoice[T ~string](flag, v string, allowed ...T) (T, error) {
	if v == "" || slices.Contains(allowed, T(v)) {
		return T(v), nil
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return "", usageError{fmt.Errorf("--%s %q: want one of %s", flag, v, strings.Join(names, ", "))}
}

// parseKind reads a --kind of message.
func parseKind(v string) (wxnotify.MessageKind, error) {
	return flagChoice("kind", v, wxnotify.MessageSubscribe, wxnotify.MessageTemplate)
}
