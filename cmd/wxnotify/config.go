package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/delivery"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/ledger"
	"github.com/wxnotify/wxnotify/session"
	"github.com/wxnotify/wxnotify/token"
	"github.com/wxnotify/wxnotify/wechat"
)

// EnvConfig names the configuration file when --config is not given.
const EnvConfig = "WXNOTIFY_CONFIG"

// Config is every tunable of a wxnotify instance. It is read from one TOML
// file (--config FILE or WXNOTIFY_CONFIG); each key may also be set by an
// environment variable and some by a flag. Precedence: flag > environment >
// file > default (NewConfig).
//
// Secrets are never part of it: the secret key, the operator password and
// app secrets come only from the environment (or stdin), and a file that
// holds a secret-looking key is an error that names the variable to use.
//
// NOTE: keep etc/wxnotify.example.toml and docs/configuration.md in step
// with this struct and with Config.settings.
type Config struct {
	Log      LogConfig      `toml:"log"`
	Database DatabaseConfig `toml:"database"`
	HTTP     HTTPConfig     `toml:"http"`
	WeChat   WeChatConfig   `toml:"wechat"`
	Delivery DeliveryConfig `toml:"delivery"`
	Token    TokenConfig    `toml:"token"`
	Ledger   LedgerConfig   `toml:"ledger"`
	Sessions SessionsConfig `toml:"sessions"`
}

// LogConfig: the JSON log on stderr.
type LogConfig struct {
	Level string `toml:"level"` // debug, info, warn or error
}

// DatabaseConfig: where everything is stored.
type DatabaseConfig struct {
	// DSN is sqlite://PATH or postgres://…; a password may not be written
	// here (use WXNOTIFY_DB, PGPASSWORD or ~/.pgpass).
	DSN string `toml:"dsn"`
}

// HTTPConfig: the HTTP API.
type HTTPConfig struct {
	Addr string `toml:"addr"` // listen address, host:port; port 0 picks a free one
}

// WeChatConfig: WeChat's server API.
type WeChatConfig struct {
	BaseURL string `toml:"base_url"` // the real API, or a simulator
}

// DeliveryConfig tunes delivery.Pipeline.
type DeliveryConfig struct {
	Concurrency  int      `toml:"concurrency"`
	ClaimBatch   int      `toml:"claim_batch"`
	Lease        Duration `toml:"lease"`
	PollInterval Duration `toml:"poll_interval"`
	MaxAttempts  int      `toml:"max_attempts"`
	MinBackoff   Duration `toml:"min_backoff"`
	MaxBackoff   Duration `toml:"max_backoff"`
	AppRate      float64  `toml:"app_rate"`
	AppBurst     int      `toml:"app_burst"`
	Retention    Duration `toml:"retention"`
	// WebhookAllowPrivate lets outcome webhooks reach loopback, private and
	// link-local addresses.
	WebhookAllowPrivate bool `toml:"webhook_allow_private"`
}

// TokenConfig tunes token.Service.
type TokenConfig struct {
	RefreshAhead Duration `toml:"refresh_ahead"`
	Lease        Duration `toml:"lease"`
}

// LedgerConfig tunes ledger.Service.
type LedgerConfig struct {
	SafetyMargin  Duration `toml:"safety_margin"`
	PurgeInterval Duration `toml:"purge_interval"`
}

// SessionsConfig tunes mini-program sessions.
type SessionsConfig struct {
	TTL           Duration `toml:"ttl"`
	Rate          float64  `toml:"rate"`
	Burst         int      `toml:"burst"`
	PurgeInterval Duration `toml:"purge_interval"`
}

// Duration is a time.Duration written as text in the file ("30s", "5m",
// "1h30m"). It is a struct, not an integer type, so that a bare number
// ("lease = 30") is an error rather than 30 nanoseconds.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as ParseDuration reads it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// String drops zero minutes and seconds: "720h", "5m", "1h30m".
func (d Duration) String() string {
	s := d.Duration.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func parseDuration(s string) (time.Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: write a number with a unit, like \"500ms\", \"30s\", \"5m\" or \"1h30m\" (units: ms, s, m, h)", s)
	}
	return v, nil
}

func dur(d time.Duration) Duration { return Duration{d} }

// NewConfig returns the defaults. Each is a named constant of the package
// that uses it.
func NewConfig() *Config {
	return &Config{
		Log:      LogConfig{Level: "info"},
		Database: DatabaseConfig{DSN: DefaultDB},
		HTTP:     HTTPConfig{Addr: DefaultAddr},
		WeChat:   WeChatConfig{BaseURL: wechat.DefaultBaseURL},
		Delivery: DeliveryConfig{
			Concurrency:  delivery.DefaultConcurrency,
			ClaimBatch:   delivery.DefaultClaimBatch,
			Lease:        dur(delivery.DefaultLeaseTTL),
			PollInterval: dur(delivery.DefaultPollInterval),
			MaxAttempts:  delivery.DefaultMaxAttempts,
			MinBackoff:   dur(delivery.DefaultMinBackoff),
			MaxBackoff:   dur(delivery.DefaultMaxBackoff),
			AppRate:      delivery.DefaultAppRate,
			AppBurst:     delivery.DefaultAppBurst,
			Retention:    dur(delivery.DefaultRetention),
		},
		Token: TokenConfig{
			RefreshAhead: dur(token.DefaultRefreshAhead),
			Lease:        dur(token.DefaultLeaseTTL),
		},
		Ledger: LedgerConfig{
			SafetyMargin:  dur(wxnotify.DefaultCreditSafetyMargin),
			PurgeInterval: dur(ledger.DefaultPurgeInterval),
		},
		Sessions: SessionsConfig{
			TTL:           dur(wxnotify.DefaultSessionTTL),
			Rate:          wxhttp.DefaultSessionRate,
			Burst:         wxhttp.DefaultSessionBurst,
			PurgeInterval: dur(session.DefaultPurgeInterval),
		},
	}
}

// DefaultAddr is the HTTP API's listen address when none is configured.
const DefaultAddr = "127.0.0.1:8080"

// instanceOptions returns the options of an instance run with c.
func (c *Config) instanceOptions() instanceOptions {
	return instanceOptions{
		Addr:                 c.HTTP.Addr,
		WeChatURL:            c.WeChat.BaseURL,
		Concurrency:          c.Delivery.Concurrency,
		ClaimBatch:           c.Delivery.ClaimBatch,
		LeaseTTL:             c.Delivery.Lease.Duration,
		PollInterval:         c.Delivery.PollInterval.Duration,
		MaxAttempts:          c.Delivery.MaxAttempts,
		MinBackoff:           c.Delivery.MinBackoff.Duration,
		MaxBackoff:           c.Delivery.MaxBackoff.Duration,
		AppRate:              c.Delivery.AppRate,
		AppBurst:             c.Delivery.AppBurst,
		Retention:            c.Delivery.Retention.Duration,
		WebhookAllowPrivate:  c.Delivery.WebhookAllowPrivate,
		TokenRefreshAhead:    c.Token.RefreshAhead.Duration,
		TokenLeaseTTL:        c.Token.Lease.Duration,
		CreditSafetyMargin:   c.Ledger.SafetyMargin.Duration,
		CreditPurgeInterval:  c.Ledger.PurgeInterval.Duration,
		SessionTTL:           c.Sessions.TTL.Duration,
		SessionRate:          c.Sessions.Rate,
		SessionBurst:         c.Sessions.Burst,
		SessionPurgeInterval: c.Sessions.PurgeInterval.Duration,
	}
}

// setting is one key of the file: where it lives in Config, which
// environment variable and flag override it, and its allowed values.
type setting struct {
	key   string // "delivery.concurrency"
	env   string
	flag  string // the flag of serve (or the root) that overrides it; "" for none
	ptr   any    // *string, *int, *float64 or *Duration
	check func() error
}

// settings lists every key of c. The order is the order of the file.
func (c *Config) settings() []setting {
	d := &c.Delivery
	return []setting{
		{key: "log.level", flag: "log-level", ptr: &c.Log.Level, check: oneOf(&c.Log.Level, "debug", "info", "warn", "error")},
		{key: "database.dsn", env: "WXNOTIFY_DB", flag: "db", ptr: &c.Database.DSN, check: func() error { return checkDSN(c.Database.DSN) }},
		{key: "http.addr", flag: "addr", ptr: &c.HTTP.Addr, check: func() error { return checkAddr(c.HTTP.Addr) }},
		{key: "wechat.base_url", env: "WXNOTIFY_WECHAT_URL", ptr: &c.WeChat.BaseURL, check: func() error { return checkURL(c.WeChat.BaseURL) }},

		{key: "delivery.concurrency", flag: "concurrency", ptr: &d.Concurrency, check: intRange(&d.Concurrency, 1, 10_000)},
		{key: "delivery.claim_batch", ptr: &d.ClaimBatch, check: intRange(&d.ClaimBatch, 1, 10_000)},
		// The lease should outlast one WeChat call (wechat.DefaultTimeout),
		// or a slow send is taken over; tests use shorter ones.
		{key: "delivery.lease", flag: "lease", ptr: &d.Lease, check: durRange(&d.Lease, time.Second, time.Hour)},
		{key: "delivery.poll_interval", ptr: &d.PollInterval, check: durRange(&d.PollInterval, time.Millisecond, time.Minute)},
		{key: "delivery.max_attempts", ptr: &d.MaxAttempts, check: intRange(&d.MaxAttempts, 1, 100)},
		{key: "delivery.min_backoff", ptr: &d.MinBackoff, check: durRange(&d.MinBackoff, 10*time.Millisecond, time.Hour)},
		{key: "delivery.max_backoff", ptr: &d.MaxBackoff, check: func() error {
			if d.MaxBackoff.Duration < d.MinBackoff.Duration {
				return fmt.Errorf("must be at least delivery.min_backoff (%s)", d.MinBackoff)
			}
			return durRange(&d.MaxBackoff, 10*time.Millisecond, 24*time.Hour)()
		}},
		{key: "delivery.app_rate", flag: "app-rate", ptr: &d.AppRate, check: floatRange(&d.AppRate, 0.01, 1e6)},
		{key: "delivery.app_burst", ptr: &d.AppBurst, check: intRange(&d.AppBurst, 1, 1_000_000)},
		{key: "delivery.retention", ptr: &d.Retention, check: durRange(&d.Retention, time.Hour, 10*365*24*time.Hour)},
		{key: "delivery.webhook_allow_private", ptr: &d.WebhookAllowPrivate, check: func() error { return nil }},

		// WeChat renews a stable_token only in its last 5 minutes.
		{key: "token.refresh_ahead", ptr: &c.Token.RefreshAhead, check: durRange(&c.Token.RefreshAhead, 30*time.Second, 5*time.Minute)},
		{key: "token.lease", ptr: &c.Token.Lease, check: durRange(&c.Token.Lease, time.Second, 10*time.Minute)},

		// A form_id lives 7 days; a margin of 7 days or more spends none.
		{key: "ledger.safety_margin", ptr: &c.Ledger.SafetyMargin, check: durRange(&c.Ledger.SafetyMargin, time.Minute, wxnotify.FormIDLifetime-time.Hour)},
		{key: "ledger.purge_interval", ptr: &c.Ledger.PurgeInterval, check: durRange(&c.Ledger.PurgeInterval, time.Second, 24*time.Hour)},

		{key: "sessions.ttl", ptr: &c.Sessions.TTL, check: durRange(&c.Sessions.TTL, time.Minute, 90*24*time.Hour)},
		{key: "sessions.rate", ptr: &c.Sessions.Rate, check: floatRange(&c.Sessions.Rate, 0.01, 10_000)},
		{key: "sessions.burst", ptr: &c.Sessions.Burst, check: intRange(&c.Sessions.Burst, 1, 10_000)},
		{key: "sessions.purge_interval", ptr: &c.Sessions.PurgeInterval, check: durRange(&c.Sessions.PurgeInterval, time.Second, 24*time.Hour)},
	}
}

// envName is the environment variable of s: WXNOTIFY_ and the key in
// capitals ("delivery.concurrency": WXNOTIFY_DELIVERY_CONCURRENCY), unless
// it keeps an older name.
func (s setting) envName() string {
	if s.env != "" {
		return s.env
	}
	return "WXNOTIFY_" + strings.ToUpper(strings.ReplaceAll(s.key, ".", "_"))
}

// set parses text (from the environment or a flag) into the setting.
func (s setting) set(text string) error {
	switch p := s.ptr.(type) {
	case *string:
		*p = text
	case *int:
		v, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", text)
		}
		*p = v
	case *float64:
		v, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", text)
		}
		*p = v
	case *Duration:
		v, err := parseDuration(strings.TrimSpace(text))
		if err != nil {
			return err
		}
		p.Duration = v
	case *bool:
		v, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return fmt.Errorf("%q is not true or false", text)
		}
		*p = v
	default:
		panic("config: unknown setting type")
	}
	return nil
}

// text is the setting's value as the file would hold it.
func (s setting) text() string {
	switch p := s.ptr.(type) {
	case *string:
		if s.key == "database.dsn" {
			return strconv.Quote(redactDSN(*p))
		}
		return strconv.Quote(*p)
	case *int:
		return strconv.Itoa(*p)
	case *float64:
		return strconv.FormatFloat(*p, 'g', -1, 64)
	case *Duration:
		return strconv.Quote(p.String())
	case *bool:
		return strconv.FormatBool(*p)
	}
	return ""
}

func intRange(p *int, lo, hi int) func() error {
	return func() error {
		if *p < lo || *p > hi {
			return fmt.Errorf("must be between %d and %d", lo, hi)
		}
		return nil
	}
}

func floatRange(p *float64, lo, hi float64) func() error {
	return func() error {
		if *p < lo || *p > hi {
			return fmt.Errorf("must be between %g and %g", lo, hi)
		}
		return nil
	}
}

func durRange(p *Duration, lo, hi time.Duration) func() error {
	return func() error {
		if p.Duration < lo || p.Duration > hi {
			return fmt.Errorf("must be between %s and %s", Duration{lo}, Duration{hi})
		}
		return nil
	}
}

func oneOf(p *string, values ...string) func() error {
	return func() error {
		if !slices.Contains(values, *p) {
			return fmt.Errorf("must be one of %s", strings.Join(values, ", "))
		}
		return nil
	}
}

func checkDSN(dsn string) error {
	if !strings.HasPrefix(dsn, "sqlite://") && !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return errors.New("must be sqlite://PATH or postgres://…")
	}
	return nil
}

func checkAddr(addr string) error {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return errors.New("must be host:port, like \"127.0.0.1:8080\" or \":8080\"")
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an http:// or https:// URL")
	}
	return nil
}

// secretKeys are words that make a key look like a secret. Such a key in the
// file is refused with the environment variable to use instead.
var secretKeys = regexp.MustCompile(`(?i)(secret|passw|passwd|pwd|token$|access_token|session_key|api_?key|aes_?key|private_key|credential)`)

// secretAdvice says where each kind of secret goes.
func secretAdvice(key string) string {
	k := strings.ToLower(key)
	switch {
	case strings.Contains(k, "secret_key") || strings.Contains(k, "encryption") || k == "key":
		return "set WXNOTIFY_SECRET_KEY (or WXNOTIFY_SECRET_KEY_FILE) in the environment instead"
	case strings.Contains(k, "admin") || strings.Contains(k, "passw") || strings.Contains(k, "pwd"):
		return "set WXNOTIFY_ADMIN_PASSWORD in the environment instead (a database password goes in WXNOTIFY_DB, PGPASSWORD or ~/.pgpass)"
	case strings.Contains(k, "app") || strings.Contains(k, "secret"):
		return "app secrets are given on stdin: printf '%s\\n' \"$APP_SECRET\" | wxnotify app add APPID"
	}
	return "secrets come only from environment variables (WXNOTIFY_SECRET_KEY, WXNOTIFY_ADMIN_PASSWORD) or stdin"
}

// ConfigError lists everything wrong with a configuration, one problem a
// line, each naming the key and where its value came from.
type ConfigError struct {
	Path     string
	Problems []string
}

// Unwrap makes a ConfigError an EINVALID error (exit code 3) whose message
// is the whole explanation.
func (e *ConfigError) Unwrap() error {
	return &wxnotify.Error{Code: wxnotify.EINVALID, Message: e.Error()}
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		fmt.Fprintf(&b, "configuration %s:", e.Path)
	} else {
		b.WriteString("configuration:")
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p)
	}
	return b.String()
}

// loadedConfig is a resolved configuration and where each value came from.
type loadedConfig struct {
	*Config
	Path   string            // the file read, if any
	Source map[string]string // key → "default", "file line N", "env X", "flag --x"
}

// configInput is what resolving a configuration reads.
type configInput struct {
	Path   string                           // the file; "" for none
	Getenv func(string) string              // the environment
	Flag   func(name string) (string, bool) // a flag's value, if it was set
}

// LoadConfig resolves a configuration: the defaults, then the file, then
// the environment, then the flags that were set. It returns a *ConfigError
// that explains every problem it found.
func LoadConfig(in configInput) (*loadedConfig, error) {
	c := NewConfig()
	lc := &loadedConfig{Config: c, Path: in.Path, Source: map[string]string{}}
	cerr := &ConfigError{Path: in.Path}
	settings := c.settings()
	for _, s := range settings {
		lc.Source[s.key] = "default"
	}

	var lines map[string]keyPos
	if in.Path != "" {
		doc, err := os.ReadFile(in.Path)
		if err != nil {
			return nil, fmt.Errorf("read configuration: %w", err)
		}
		lines = keyLines(doc)
		if problems := decodeConfig(doc, c, lines); len(problems) > 0 {
			cerr.Problems = problems
			return nil, cerr
		}
		for _, s := range settings {
			if kp, ok := lines[s.key]; ok {
				lc.Source[s.key] = fmt.Sprintf("file line %d", kp.line)
			}
		}
		if u, err := url.Parse(c.Database.DSN); err == nil {
			_, hasPass := u.User.Password()
			if hasPass || u.Query().Has("password") {
				cerr.Problems = append(cerr.Problems, fmt.Sprintf("database.dsn%s holds a password: secrets are never read from the file; put the DSN in WXNOTIFY_DB, or the password in PGPASSWORD or ~/.pgpass", lineNote(lines, "database.dsn")))
			}
		}
	}
	if in.Getenv != nil {
		for _, s := range settings {
			if v := in.Getenv(s.envName()); v != "" {
				if err := s.set(v); err != nil {
					cerr.Problems = append(cerr.Problems, fmt.Sprintf("%s (from %s): %v", s.key, s.envName(), err))
					continue
				}
				lc.Source[s.key] = "env " + s.envName()
			}
		}
	}
	if in.Flag != nil {
		for _, s := range settings {
			if s.flag == "" {
				continue
			}
			if v, ok := in.Flag(s.flag); ok {
				if err := s.set(v); err != nil {
					cerr.Problems = append(cerr.Problems, fmt.Sprintf("%s (from --%s): %v", s.key, s.flag, err))
					continue
				}
				lc.Source[s.key] = "flag --" + s.flag
			}
		}
	}
	for _, s := range settings {
		if err := s.check(); err != nil {
			cerr.Problems = append(cerr.Problems, fmt.Sprintf("%s = %s (%s): %v", s.key, s.text(), lc.Source[s.key], err))
		}
	}
	if len(cerr.Problems) > 0 {
		return nil, cerr
	}
	return lc, nil
}

// decodeConfig decodes doc strictly into c and explains what went wrong:
// unknown keys (with the closest known key), secret-looking keys, wrong
// types and unparsable durations, each with its line.
func decodeConfig(doc []byte, c *Config, lines map[string]keyPos) []string {
	dec := toml.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	err := dec.Decode(c)
	if err == nil {
		return nil
	}
	known := make([]string, 0, 40)
	for _, s := range NewConfig().settings() {
		table, _, _ := strings.Cut(s.key, ".")
		if !slices.Contains(known, table) {
			known = append(known, table)
		}
		known = append(known, s.key)
	}
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var problems []string
		for _, e := range strict.Errors {
			key := strings.Join(e.Key(), ".")
			row, _ := e.Position()
			leaf := key
			if i := strings.LastIndex(key, "."); i >= 0 {
				leaf = key[i+1:]
			}
			if secretKeys.MatchString(leaf) {
				problems = append(problems, fmt.Sprintf("line %d: %s looks like a secret, and secrets are never read from the configuration file: %s", row, key, secretAdvice(key)))
				continue
			}
			msg := fmt.Sprintf("line %d: unknown key %s", row, key)
			if best := closest(key, known); best != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", best)
			}
			problems = append(problems, msg)
		}
		return problems
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		key := strings.Join(de.Key(), ".")
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if strings.HasPrefix(msg, "cannot decode TOML") {
			msg = typeHint(key, msg)
		}
		if key != "" {
			return []string{fmt.Sprintf("line %d, column %d: %s: %s", row, col, key, msg)}
		}
		return []string{fmt.Sprintf("line %d, column %d: %s", row, col, msg)}
	}
	// A duration given as a bare number fails in Duration.UnmarshalText,
	// whose error carries no position: find the line.
	for _, s := range NewConfig().settings() {
		if _, ok := s.ptr.(*Duration); !ok {
			continue
		}
		if kp, ok := lines[s.key]; ok && !strings.HasPrefix(kp.value, `"`) && !strings.HasPrefix(kp.value, "'") {
			return []string{fmt.Sprintf("line %d: %s: wrong type: got %s, want a quoted duration like \"30s\"", kp.line, s.key, kp.value)}
		}
	}
	return []string{err.Error()}
}

// typeHint rewrites go-toml's "cannot decode TOML string into int" in the
// file's own terms.
func typeHint(key, msg string) string {
	want := "a value of another type"
	for _, s := range NewConfig().settings() {
		if s.key != key {
			continue
		}
		switch s.ptr.(type) {
		case *string:
			want = "a quoted string"
		case *int:
			want = "a whole number, without quotes"
		case *float64:
			want = "a number, without quotes"
		case *Duration:
			want = "a quoted duration like \"30s\""
		case *bool:
			want = "true or false, without quotes"
		}
	}
	got := strings.TrimPrefix(msg, "cannot decode TOML ")
	if i := strings.Index(got, " into "); i >= 0 {
		got = got[:i]
	}
	return fmt.Sprintf("wrong type: got a %s, want %s", got, want)
}

func lineNote(lines map[string]keyPos, key string) string {
	if kp, ok := lines[key]; ok {
		return fmt.Sprintf(" (line %d)", kp.line)
	}
	return ""
}

// keyPos is where a key is set in the file, and its value as written.
type keyPos struct {
	line  int
	value string
}

var (
	tableLine = regexp.MustCompile(`^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]`)
	keyLine   = regexp.MustCompile(`^\s*([A-Za-z0-9_.\-]+)\s*=\s*(.*)$`)
)

// keyLines maps each dotted key of a TOML document to its line, for
// messages. It reads [table] headers and key = lines, which is all a
// configuration file needs; anything fancier just goes unnumbered.
func keyLines(doc []byte) map[string]keyPos {
	out := map[string]keyPos{}
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if m := tableLine.FindStringSubmatch(line); m != nil {
			table = m[1]
			continue
		}
		if m := keyLine.FindStringSubmatch(line); m != nil {
			key := m[1]
			if table != "" {
				key = table + "." + key
			}
			if _, ok := out[key]; !ok {
				out[key] = keyPos{line: n, value: strings.TrimSpace(m[2])}
			}
		}
	}
	return out
}

// closest returns the known key nearest to key, if it is near enough to be
// a typo: compared whole and by its last part.
func closest(key string, known []string) string {
	best, bestD := "", 1<<30
	leaf := key[strings.LastIndex(key, ".")+1:]
	for _, k := range known {
		d := min(editDistance(key, k), editDistance(leaf, k[strings.LastIndex(k, ".")+1:])+1)
		if d < bestD {
			best, bestD = k, d
		}
	}
	if bestD > max(2, len(leaf)/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// configPath is the file named by --config or WXNOTIFY_CONFIG.
func (g *globals) configPath() string {
	return cmp.Or(g.config, g.env.Getenv(EnvConfig))
}

// loadConfig resolves the configuration of cmd (its --config, the
// environment and its flags that were set), and makes the globals follow
// it: --db and --log-level are resolved here too.
func (g *globals) loadConfig(cmd *cobra.Command) (*loadedConfig, error) {
	lc, err := LoadConfig(configInput{
		Path:   g.configPath(),
		Getenv: g.env.Getenv,
		Flag: func(name string) (string, bool) {
			f := cmd.Flags().Lookup(name)
			if f == nil || !f.Changed {
				return "", false
			}
			return f.Value.String(), true
		},
	})
	if err != nil {
		return nil, err
	}
	g.db = lc.Database.DSN
	g.logLevel = lc.Log.Level
	return lc, nil
}

// write prints the effective configuration as a TOML file, each key with
// where its value came from. It holds no secret: a DSN's password is
// redacted.
func (lc *loadedConfig) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if lc.Path != "" {
		fmt.Fprintf(tw, "# effective configuration: %s, then the environment, then flags\n", lc.Path)
	} else {
		fmt.Fprintf(tw, "# effective configuration: defaults (no file), then the environment, then flags\n")
	}
	table := ""
	for _, s := range lc.settings() {
		t, k, _ := strings.Cut(s.key, ".")
		if t != table {
			tw.Flush()
			fmt.Fprintf(tw, "\n[%s]\n", t)
			table = t
		}
		fmt.Fprintf(tw, "%s = %s\t# %s\n", k, s.text(), lc.Source[s.key])
	}
	return tw.Flush()
}

func newConfigCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check the configuration file and print the effective configuration",
	}
	check := &cobra.Command{
		Use:   "check",
		Short: "Check the configuration (--config FILE or WXNOTIFY_CONFIG) and print what wxnotify would use",
		Long: "Read the configuration file, apply the environment (WXNOTIFY_*) and the flags, and check every value.\n" +
			"On a problem it names the key, its line and what is wrong (unknown key, wrong type, bad duration,\n" +
			"out of range, a secret in the file) and exits 3. Otherwise it prints the effective configuration,\n" +
			"each key with where its value came from. Secrets are never printed. See docs/configuration.md.",
		Example: "  wxnotify config check --config /etc/wxnotify.toml",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			lc, err := g.loadConfig(cmd)
			if err != nil {
				return err
			}
			if g.json {
				return writeJSONConfig(g.env.Stdout, lc)
			}
			return lc.write(g.env.Stdout)
		},
	}
	cmd.AddCommand(check)
	return cmd
}

func writeJSONConfig(w io.Writer, lc *loadedConfig) error {
	type entry struct {
		Key    string `json:"key"`
		Value  any    `json:"value"`
		Source string `json:"source"`
	}
	out := struct {
		Path     string  `json:"path,omitempty"`
		Settings []entry `json:"settings"`
	}{Path: lc.Path}
	for _, s := range lc.settings() {
		var v any
		switch p := s.ptr.(type) {
		case *string:
			v = *p
			if s.key == "database.dsn" {
				v = redactDSN(*p)
			}
		case *int:
			v = *p
		case *float64:
			v = *p
		case *Duration:
			v = p.String()
		}
		out.Settings = append(out.Settings, entry{s.key, v, lc.Source[s.key]})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
