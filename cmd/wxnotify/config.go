package main

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/delivery"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/internal/seal"
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
// Config is the typed view of the settings table below, which is the one
// place where a key's name, variable, flag, default, allowed values and
// documentation are written: the fields carry no TOML tags, the file's
// shape is built from the table (fileShape), and etc/wxnotify.example.toml
// and the key tables of docs/configuration.md are generated from it. A new
// field needs a row in settings (a test fails otherwise).
//
// Secrets are never part of it: the secret key, the operator password and
// app secrets come only from the environment (or stdin), and a file that
// holds a secret-looking key is an error that names the variable to use.
type Config struct {
	Log      LogConfig
	Database DatabaseConfig
	Secrets  SecretsConfig
	HTTP     HTTPConfig
	Client   ClientConfig
	WeChat   WeChatConfig
	Delivery DeliveryConfig
	Token    TokenConfig
	Ledger   LedgerConfig
	Sessions SessionsConfig
}

// LogConfig: the log on stderr ([log]).
type LogConfig struct{ Level, Format string }

// DatabaseConfig: where everything is stored ([database]).
type DatabaseConfig struct{ DSN string }

// SecretsConfig: where the secret key is read from ([secrets]). The key
// itself is never in the file: only the path of the file that holds it.
type SecretsConfig struct{ KeyFile string }

// ClientConfig: the running wxnotify that the remote commands (send,
// broadcast, messages, credits, jobs) talk to ([client]).
type ClientConfig struct{ URL, APIKeyFile string }

// HTTPConfig: the HTTP API ([http]).
type HTTPConfig struct{ Addr, TrustedProxies string }

// WeChatConfig: WeChat's server API ([wechat]).
type WeChatConfig struct{ BaseURL string }

// DeliveryConfig tunes delivery.Pipeline ([delivery]).
type DeliveryConfig struct {
	Concurrency         int
	ClaimBatch          int
	Lease               Duration
	PollInterval        Duration
	IdleWait            Duration
	MaxAttempts         int
	MinBackoff          Duration
	ThrottlePause       Duration
	MaxBackoff          Duration
	AppRate             float64
	AppBurst            int
	DailySubscribeLimit int
	DailyTemplateLimit  int
	Retention           Duration
	WebhookAllowPrivate bool
}

// TokenConfig tunes token.Service ([token]).
type TokenConfig struct {
	RefreshAhead Duration
	Lease        Duration
}

// LedgerConfig tunes ledger.Service ([ledger]).
type LedgerConfig struct {
	SafetyMargin  Duration
	PurgeInterval Duration
}

// SessionsConfig tunes mini-program sessions ([sessions]).
type SessionsConfig struct {
	TTL           Duration
	Rate          float64
	Burst         int
	PurgeInterval Duration
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

// DefaultAddr is the HTTP API's listen address when none is configured.
const DefaultAddr = "127.0.0.1:8080"

// settings is every key of the file, in the file's order. Each default is
// a named constant of the package that uses it.
var settings = []setting{
	{
		key: "log.level", flag: "log-level",
		field: func(c *Config) any { return &c.Log.Level },
		def:   "info", allow: oneOf("debug", "info", "warn", "error"),
		doc: "level of the log on stderr",
	},
	{
		// dev is read by a person: it logs text unless this is set anywhere.
		key: "log.format", flag: "log-format",
		field: func(c *Config) any { return &c.Log.Format },
		def:   "json", allow: oneOf("json", "text"),
		doc: "format of the log on stderr: one JSON object a line, or key=value text (`dev` logs text unless this is set)",
	},
	{
		key: "database.dsn", env: "WXNOTIFY_DB", flag: "db",
		field: func(c *Config) any { return &c.Database.DSN },
		def:   DefaultDB, allow: rule("`sqlite://PATH`, `postgres://…`, `postgresql://…`; no password in the file", checkDSN),
		redact: redactDSN,
		doc: "where everything is stored: SQLite for one instance (its directory is created), PostgreSQL when " +
			"several instances share the work. Migrations are applied on start",
	},
	{
		// A path is not a secret; the key itself comes only from this file
		// or from WXNOTIFY_SECRET_KEY, which wins over it.
		key: "secrets.key_file", env: seal.EnvKeyFile,
		field: func(c *Config) any { return &c.Secrets.KeyFile },
		def:   "", allow: rule("a file path; empty for none", checkKeyFile),
		redact: redactKeyFile,
		doc: "file holding the secret key that encrypts app secrets and access_tokens at rest (`wxnotify keygen` makes " +
			"one). The key itself is never in this file; `WXNOTIFY_SECRET_KEY`, when set, wins over it",
	},
	{
		key: "http.addr", flag: "addr",
		field: func(c *Config) any { return &c.HTTP.Addr },
		def:   DefaultAddr, allow: rule("`host:port`; port 0 picks a free one", checkAddr),
		doc: "listen address of the HTTP API: operator API, mini-program endpoints, WeChat callback, dashboard, `/metrics`",
	},
	{
		key:   "http.trusted_proxies",
		field: func(c *Config) any { return &c.HTTP.TrustedProxies },
		def:   "", allow: rule("CIDR prefixes or addresses, comma-separated; empty for none", func(v any, _ *Config) error {
			_, err := wxhttp.ParseTrustedProxies(v.(string))
			return err
		}),
		doc: "reverse proxies whose `X-Forwarded-For` (the client's address, for the dashboard login's per-address limits) " +
			"and `X-Forwarded-Proto: https` (the dashboard cookie is then `Secure`) are believed. From any other peer the " +
			"headers are ignored: list only your own proxies, never a range clients can send from",
	},
	{
		key: "client.url", env: "WXNOTIFY_URL", flag: "url",
		field: func(c *Config) any { return &c.Client.URL },
		def:   DefaultURL, allow: rule("an http(s) URL", checkURL),
		doc: "the running wxnotify that `send`, `broadcast`, `messages`, `credits` and `jobs` talk to",
	},
	{
		key: "client.api_key_file", env: "WXNOTIFY_API_KEY_FILE",
		field: func(c *Config) any { return &c.Client.APIKeyFile },
		def:   "", allow: rule("a file path; empty for none", nil),
		doc: "file holding the API key of the remote commands; `--api-key` and `WXNOTIFY_API_KEY` win over it",
	},
	{
		key: "wechat.base_url", env: "WXNOTIFY_WECHAT_URL",
		field: func(c *Config) any { return &c.WeChat.BaseURL },
		def:   wechat.DefaultBaseURL, allow: rule("an http(s) URL", checkURL),
		doc: "WeChat's server API; point it at `wxnotify sim` for development",
	},

	{
		key: "delivery.concurrency", flag: "concurrency",
		field: func(c *Config) any { return &c.Delivery.Concurrency },
		def:   delivery.DefaultConcurrency, allow: between(1, 10_000),
		doc: "sends in flight at most, per instance. At 50 ms of WeChat latency, 256 allow about 5,000 sends/s",
	},
	{
		key:   "delivery.claim_batch",
		field: func(c *Config) any { return &c.Delivery.ClaimBatch },
		def:   delivery.DefaultClaimBatch, allow: between(1, 10_000),
		doc: "messages claimed from the queue in one database round trip",
	},
	{
		// The lease should outlast one WeChat call (wechat.DefaultTimeout),
		// or a slow send is taken over; tests use shorter ones.
		key: "delivery.lease", flag: "lease",
		field: func(c *Config) any { return &c.Delivery.Lease },
		def:   delivery.DefaultLeaseTTL, allow: between(time.Second, time.Hour),
		doc: "how long an instance holds a claimed message before another may take it over; keep it above " +
			"WeChat's 10 s client timeout, or a slow send may be taken over by another instance",
	},
	{
		key:   "delivery.poll_interval",
		field: func(c *Config) any { return &c.Delivery.PollInterval },
		def:   delivery.DefaultPollInterval, allow: between(time.Millisecond, time.Minute),
		doc: "how soon an instance looks again when a due message could not be claimed (its credit busy in another claim)",
	},
	{
		key:   "delivery.idle_wait",
		field: func(c *Config) any { return &c.Delivery.IdleWait },
		def:   delivery.DefaultMaxIdleWait, allow: between(time.Millisecond, time.Minute),
		doc: "the longest an idle instance sleeps when no message is due sooner and nothing woke it (accepts " +
			"wake it at once: on this instance directly, on PostgreSQL from any instance through LISTEN/NOTIFY)",
	},
	{
		key:   "delivery.max_attempts",
		field: func(c *Config) any { return &c.Delivery.MaxAttempts },
		def:   delivery.DefaultMaxAttempts, allow: between(1, 100),
		doc: "calls to WeChat for one message before it fails",
	},
	{
		key:   "delivery.min_backoff",
		field: func(c *Config) any { return &c.Delivery.MinBackoff },
		def:   delivery.DefaultMinBackoff, allow: between(10*time.Millisecond, time.Hour),
		doc: "first wait before a retry; it doubles per attempt, with full jitter",
	},
	{
		key:   "delivery.max_backoff",
		field: func(c *Config) any { return &c.Delivery.MaxBackoff },
		def:   delivery.DefaultMaxBackoff,
		allow: rule("min_backoff..24h", func(v any, c *Config) error {
			if v.(time.Duration) < c.Delivery.MinBackoff.Duration {
				return fmt.Errorf("must be at least delivery.min_backoff (%s)", c.Delivery.MinBackoff)
			}
			return between(10*time.Millisecond, 24*time.Hour).check(v, c)
		}),
		doc: "longest wait before a retry",
	},
	{
		key:   "delivery.throttle_pause",
		field: func(c *Config) any { return &c.Delivery.ThrottlePause },
		def:   delivery.DefaultThrottlePause, allow: between(10*time.Millisecond, time.Minute),
		doc: "how long an app's sends wait after WeChat answers 45011 (too many calls this minute); it doubles " +
			"for each 45011 in a row, up to a minute, and such a call does not count toward `max_attempts`",
	},
	{
		key: "delivery.app_rate", flag: "app-rate",
		field: func(c *Config) any { return &c.Delivery.AppRate },
		def:   float64(delivery.DefaultAppRate), allow: between(0.01, 1e6),
		doc: "sends per second per app at most (WeChat answers 45011 to an app that calls too often)",
	},
	{
		key:   "delivery.app_burst",
		field: func(c *Config) any { return &c.Delivery.AppBurst },
		def:   delivery.DefaultAppBurst, allow: between(1, 1_000_000),
		doc: "sends an app may make at once above `app_rate`",
	},
	{
		key:   "delivery.daily_subscribe_limit",
		field: func(c *Config) any { return &c.Delivery.DailySubscribeLimit },
		def:   wxnotify.DefaultDailySubscribeLimit, allow: between(1, 1_000_000_000),
		doc: "subscribe messages delivered per app per day (Beijing time) at most; at the limit the app's subscribe " +
			"sends wait for the next day. WeChat's limit is 10 million, 30 million for apps with WeChat Pay",
	},
	{
		key:   "delivery.daily_template_limit",
		field: func(c *Config) any { return &c.Delivery.DailyTemplateLimit },
		def:   wxnotify.DefaultDailyTemplateLimit, allow: between(1, 1_000_000_000),
		doc: "legacy template messages delivered per app per day (Beijing time) at most, as `daily_subscribe_limit`",
	},
	{
		key:   "delivery.retention",
		field: func(c *Config) any { return &c.Delivery.Retention },
		def:   delivery.DefaultRetention, allow: between(time.Hour, 10*365*24*time.Hour),
		doc: "how long finished messages (delivered, failed, …) and their attempts stay queryable before they are deleted",
	},
	{
		key:   "delivery.webhook_allow_private",
		field: func(c *Config) any { return &c.Delivery.WebhookAllowPrivate },
		def:   false, allow: rule("true, false", nil),
		doc: "let outcome webhooks call loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7) and link-local " +
			"(169.254/16, cloud metadata) addresses. Off guards against SSRF: a holder of an API key could otherwise " +
			"make wxnotify call your internal services. On for development or when your webhook receivers are internal",
	},

	{
		// WeChat renews a stable_token only in its last 5 minutes.
		key:   "token.refresh_ahead",
		field: func(c *Config) any { return &c.Token.RefreshAhead },
		def:   token.DefaultRefreshAhead, allow: between(30*time.Second, 5*time.Minute),
		doc: "how long before expiry an access_token is refreshed; WeChat renews a stable_token only in its last 5 minutes",
	},
	{
		key:   "token.lease",
		field: func(c *Config) any { return &c.Token.Lease },
		def:   token.DefaultLeaseTTL, allow: between(time.Second, 10*time.Minute),
		doc: "how long one instance may hold the refresh lease; a crashed holder delays the others by at most this",
	},

	{
		// A form_id lives 7 days; a margin of 7 days or more spends none.
		key:   "ledger.safety_margin",
		field: func(c *Config) any { return &c.Ledger.SafetyMargin },
		def:   wxnotify.DefaultCreditSafetyMargin, allow: between(time.Minute, wxnotify.FormIDLifetime-time.Hour),
		doc: "cut from the end of a form_id's or prepay_id's 7-day life: a credit expiring within it is not spent, " +
			"so a queued message does not reach WeChat after its credit expired",
	},
	{
		key:   "ledger.purge_interval",
		field: func(c *Config) any { return &c.Ledger.PurgeInterval },
		def:   ledger.DefaultPurgeInterval, allow: between(time.Second, 24*time.Hour),
		doc: "how often expired, used-up and dead credits are purged",
	},

	{
		key:   "sessions.ttl",
		field: func(c *Config) any { return &c.Sessions.TTL },
		def:   wxnotify.DefaultSessionTTL, allow: between(time.Minute, 90*24*time.Hour),
		doc: "how long a mini-program session made by `wx.login` lasts",
	},
	{
		key:   "sessions.rate",
		field: func(c *Config) any { return &c.Sessions.Rate },
		def:   float64(wxhttp.DefaultSessionRate), allow: between(0.01, 10_000),
		doc: "requests per second per session",
	},
	{
		key:   "sessions.burst",
		field: func(c *Config) any { return &c.Sessions.Burst },
		def:   wxhttp.DefaultSessionBurst, allow: between(1, 10_000),
		doc: "requests a session may make at once above `rate`",
	},
	{
		key:   "sessions.purge_interval",
		field: func(c *Config) any { return &c.Sessions.PurgeInterval },
		def:   session.DefaultPurgeInterval, allow: between(time.Second, 24*time.Hour),
		doc: "how often expired sessions are deleted",
	},
}

// sectionTitles say what each [table] of the file is about, in the
// headings of the generated documentation.
var sectionTitles = map[string]string{
	"secrets":  "where the secret key is read from",
	"client":   "the server the remote commands talk to",
	"delivery": "the delivery pipeline",
	"token":    "the central access_token service",
	"ledger":   "send credits",
	"sessions": "mini-program sessions",
}

// setting is one key of the file: the Config field it fills and all that
// is written about it. The environment variable, the example's comment,
// the documentation's row and the flag's help are derived from it.
type setting struct {
	key   string            // "delivery.concurrency": concurrency under [delivery]
	field func(*Config) any // its field: *string, *int, *float64, *bool or *Duration
	// def is the default, of the field's type: a time.Duration for a
	// *Duration, a float64 for a *float64 (convert an untyped constant).
	def   any
	env   string  // the environment variable, when it keeps an older name than envName's rule
	flag  string  // the flag that overrides it ("" for none); addSettingFlags defines it
	allow allowed // the values it may take
	// redact hides a secret part of the value wherever it is printed.
	redact func(string) string
	doc    string // what it controls, one line
}

// allowed is the values a setting may take: how the documentation writes
// them, and the check. A nil check allows every value of the type.
type allowed struct {
	text  string                       // "1..10000", "debug, info, warn, error"
	check func(v any, c *Config) error // v is the field's value (a time.Duration for a *Duration)
}

func rule(text string, check func(v any, c *Config) error) allowed {
	return allowed{text: text, check: check}
}

// between allows lo..hi, both included.
func between[T int | float64 | time.Duration](lo, hi T) allowed {
	show := func(v T) string {
		switch v := any(v).(type) {
		case time.Duration:
			return Duration{v}.String()
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return fmt.Sprint(v)
	}
	return allowed{
		text: show(lo) + ".." + show(hi),
		check: func(v any, _ *Config) error {
			x := v.(T)
			if x >= lo && x <= hi {
				return nil
			}
			if _, ok := any(lo).(float64); ok {
				return fmt.Errorf("must be between %v and %v", lo, hi) // 1e+06, as %g writes it
			}
			return fmt.Errorf("must be between %s and %s", show(lo), show(hi))
		},
	}
}

func oneOf(values ...string) allowed {
	return allowed{
		text: strings.Join(values, ", "),
		check: func(v any, _ *Config) error {
			if !slices.Contains(values, v.(string)) {
				return fmt.Errorf("must be one of %s", strings.Join(values, ", "))
			}
			return nil
		},
	}
}

func checkDSN(v any, _ *Config) error {
	dsn := v.(string)
	if !strings.HasPrefix(dsn, "sqlite://") && !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return errors.New("must be sqlite://PATH or postgres://…")
	}
	return nil
}

// checkKeyFile refuses a key written where its file's path belongs, so it
// is neither used as a path nor printed in an error.
func checkKeyFile(v any, _ *Config) error {
	if _, err := seal.ParseKey(v.(string)); err == nil {
		return fmt.Errorf("holds a secret key, not the path of a file: put the key in a file (mode 0600) and name it here, or set %s", seal.EnvKey)
	}
	return nil
}

func redactKeyFile(v string) string {
	if _, err := seal.ParseKey(v); err == nil {
		return "(a secret key, hidden)"
	}
	return v
}

func checkAddr(v any, _ *Config) error {
	if _, port, err := net.SplitHostPort(v.(string)); err != nil || port == "" {
		return errors.New("must be host:port, like \"127.0.0.1:8080\" or \":8080\"")
	}
	return nil
}

func checkURL(v any, _ *Config) error {
	u, err := url.Parse(v.(string))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an http:// or https:// URL")
	}
	return nil
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	c := &Config{}
	for _, s := range settings {
		s.put(c, s.def)
	}
	return c
}

// instanceOptions returns the options of an instance run with c.
func (c *Config) instanceOptions() instanceOptions {
	return instanceOptions{
		Addr:                 c.HTTP.Addr,
		TrustedProxies:       c.HTTP.TrustedProxies,
		WeChatURL:            c.WeChat.BaseURL,
		Concurrency:          c.Delivery.Concurrency,
		ClaimBatch:           c.Delivery.ClaimBatch,
		LeaseTTL:             c.Delivery.Lease.Duration,
		PollInterval:         c.Delivery.PollInterval.Duration,
		IdleWait:             c.Delivery.IdleWait.Duration,
		MaxAttempts:          c.Delivery.MaxAttempts,
		MinBackoff:           c.Delivery.MinBackoff.Duration,
		MaxBackoff:           c.Delivery.MaxBackoff.Duration,
		ThrottlePause:        c.Delivery.ThrottlePause.Duration,
		AppRate:              c.Delivery.AppRate,
		AppBurst:             c.Delivery.AppBurst,
		DailySubscribeLimit:  c.Delivery.DailySubscribeLimit,
		DailyTemplateLimit:   c.Delivery.DailyTemplateLimit,
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

// table and name split the key: "delivery" and "concurrency".
func (s setting) table() string { t, _, _ := strings.Cut(s.key, "."); return t }
func (s setting) name() string  { _, n, _ := strings.Cut(s.key, "."); return n }

// envName is the environment variable of s: WXNOTIFY_ and the key in
// capitals ("delivery.concurrency": WXNOTIFY_DELIVERY_CONCURRENCY), unless
// it keeps an older name.
func (s setting) envName() string {
	if s.env != "" {
		return s.env
	}
	return "WXNOTIFY_" + strings.ToUpper(strings.ReplaceAll(s.key, ".", "_"))
}

// get returns the value of s in c: a string, int, float64, bool or
// time.Duration.
func (s setting) get(c *Config) any {
	switch p := s.field(c).(type) {
	case *string:
		return *p
	case *int:
		return *p
	case *float64:
		return *p
	case *bool:
		return *p
	case *Duration:
		return p.Duration
	}
	panic("config: " + s.key + ": unknown setting type")
}

// put sets s in c to v, of the type get returns; any other type is a
// mistake in settings, which NewConfig makes plain at once.
func (s setting) put(c *Config, v any) {
	ok := false
	switch p := s.field(c).(type) {
	case *string:
		*p, ok = v.(string)
	case *int:
		*p, ok = v.(int)
	case *float64:
		*p, ok = v.(float64)
	case *bool:
		*p, ok = v.(bool)
	case *Duration:
		p.Duration, ok = v.(time.Duration)
	}
	if !ok {
		panic(fmt.Sprintf("config: %s: a %T does not go in a %T", s.key, v, s.field(c)))
	}
}

// set parses text (from the environment or a flag) into the setting.
func (s setting) set(c *Config, text string) error {
	var v any
	var err error
	switch s.field(c).(type) {
	case *string:
		v = text
	case *int:
		if v, err = strconv.Atoi(strings.TrimSpace(text)); err != nil {
			return fmt.Errorf("%q is not a whole number", text)
		}
	case *float64:
		if v, err = strconv.ParseFloat(strings.TrimSpace(text), 64); err != nil {
			return fmt.Errorf("%q is not a number", text)
		}
	case *bool:
		if v, err = strconv.ParseBool(strings.TrimSpace(text)); err != nil {
			return fmt.Errorf("%q is not true or false", text)
		}
	case *Duration:
		if v, err = parseDuration(strings.TrimSpace(text)); err != nil {
			return err
		}
	}
	s.put(c, v)
	return nil
}

// shown is v as it may be printed: redacted, and a duration as text.
func (s setting) shown(v any) any {
	switch v := v.(type) {
	case string:
		if s.redact != nil {
			return s.redact(v)
		}
	case time.Duration:
		return Duration{v}.String()
	}
	return v
}

// literal is v (of the type get returns) as the file writes it, redacted.
func (s setting) literal(v any) string {
	switch v := s.shown(v).(type) {
	case string:
		return strconv.Quote(v)
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// text is the setting's value in c as the file would hold it.
func (s setting) text(c *Config) string { return s.literal(s.get(c)) }

// want says in the file's terms what a value of s looks like.
func (s setting) want() string {
	switch s.field(&Config{}).(type) {
	case *string:
		return "a quoted string"
	case *int:
		return "a whole number, without quotes"
	case *float64:
		return "a number, without quotes"
	case *Duration:
		return "a quoted duration like \"30s\""
	case *bool:
		return "true or false, without quotes"
	}
	return "a value of another type"
}

// usage is the help of s's flag: its doc up to the first stop, and its key.
func (s setting) usage() string {
	doc := strings.ReplaceAll(s.doc, "`", "") // pflag reads a back-quoted word as the value's name
	for i := 0; i+1 < len(doc); i++ {
		if strings.IndexByte(".;:", doc[i]) >= 0 && doc[i+1] == ' ' {
			doc = doc[:i]
			break
		}
	}
	return doc + " (" + s.key + ")"
}

// findSetting returns the setting of a key, or false.
func findSetting(key string) (setting, bool) {
	i := slices.IndexFunc(settings, func(s setting) bool { return s.key == key })
	if i < 0 {
		return setting{}, false
	}
	return settings[i], true
}

// addSettingFlags defines on cmd the flags of settings by their flag names
// ("addr", "lease"), each typed like its key, with its default and help
// from the table. LoadConfig reads those that were set.
func addSettingFlags(cmd *cobra.Command, flags ...string) { addSettingFlagsTo(cmd.Flags(), flags...) }

// addSettingFlagsTo is addSettingFlags on a flag set: a command's
// persistent flags, for flags its subcommands share (--db, --url).
func addSettingFlagsTo(f *pflag.FlagSet, flags ...string) {
	for _, name := range flags {
		i := slices.IndexFunc(settings, func(s setting) bool { return s.flag == name })
		if i < 0 {
			panic("config: no setting has the flag --" + name)
		}
		s := settings[i]
		switch s.field(&Config{}).(type) {
		case *string:
			f.String(name, s.def.(string), s.usage())
		case *int:
			f.Int(name, s.def.(int), s.usage())
		case *float64:
			f.Float64(name, s.def.(float64), s.usage())
		case *bool:
			f.Bool(name, s.def.(bool), s.usage())
		case *Duration:
			f.Duration(name, s.def.(time.Duration), s.usage())
		}
	}
}

// fileShape is the configuration file as a Go type, built from settings: a
// struct of tables, each a struct of its keys tagged with their TOML names.
// Decoding into it lets go-toml find unknown keys, wrong types and bad
// durations with their positions, while each name is written only in
// settings. at[i] is where settings[i] is: its table's field, then its own.
var fileShape = sync.OnceValue(func() (shape struct {
	typ reflect.Type
	at  [][2]int
}) {
	var tables []reflect.StructField
	var keys [][]reflect.StructField
	for _, s := range settings {
		t := slices.IndexFunc(tables, func(f reflect.StructField) bool { return f.Tag.Get("toml") == s.table() })
		if t < 0 {
			t = len(tables)
			tables = append(tables, reflect.StructField{Name: fmt.Sprintf("T%d", t), Tag: reflect.StructTag(`toml:"` + s.table() + `"`)})
			keys = append(keys, nil)
		}
		shape.at = append(shape.at, [2]int{t, len(keys[t])})
		keys[t] = append(keys[t], reflect.StructField{
			Name: fmt.Sprintf("K%d", len(keys[t])),
			Type: reflect.TypeOf(s.field(&Config{})).Elem(),
			Tag:  reflect.StructTag(`toml:"` + s.name() + `"`),
		})
	}
	for t := range tables {
		tables[t].Type = reflect.StructOf(keys[t])
	}
	shape.typ = reflect.StructOf(tables)
	return shape
})

// decodeFile decodes doc strictly into c: keys the file does not set keep
// their values in c.
func decodeFile(doc []byte, c *Config) error {
	shape := fileShape()
	file := reflect.New(shape.typ).Elem()
	for i, s := range settings {
		file.Field(shape.at[i][0]).Field(shape.at[i][1]).Set(reflect.ValueOf(s.field(c)).Elem())
	}
	dec := toml.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(file.Addr().Interface()); err != nil {
		return err
	}
	for i, s := range settings {
		reflect.ValueOf(s.field(c)).Elem().Set(file.Field(shape.at[i][0]).Field(shape.at[i][1]))
	}
	return nil
}

// secretKeys are words that make a key look like a secret. Such a key in the
// file is refused with the environment variable to use instead.
var secretKeys = regexp.MustCompile(`(?i)(^key$|secret|passw|passwd|pwd|token$|access_token|session_key|api_?key|aes_?key|private_key|credential)`)

// secretAdvice says where each kind of secret goes.
func secretAdvice(key string) string {
	k := strings.ToLower(key)
	switch {
	case strings.Contains(k, "secret_key") || strings.Contains(k, "encryption") || k == "key" || strings.HasSuffix(k, ".key"):
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
	for _, s := range settings {
		lc.Source[s.key] = "default"
	}

	var lines map[string]keyPos
	if in.Path != "" {
		doc, err := os.ReadFile(in.Path)
		if err != nil {
			cerr.Problems = []string{fmt.Sprintf("cannot read it: %v", errors.Unwrap(err))}
			if errors.Is(err, fs.ErrNotExist) {
				cerr.Problems[0] = "no such file (--config or " + EnvConfig + " names it)"
			}
			return nil, cerr
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
				if err := s.set(c, v); err != nil {
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
				if err := s.set(c, v); err != nil {
					cerr.Problems = append(cerr.Problems, fmt.Sprintf("%s (from --%s): %v", s.key, s.flag, err))
					continue
				}
				lc.Source[s.key] = "flag --" + s.flag
			}
		}
	}
	for _, s := range settings {
		if s.allow.check == nil {
			continue
		}
		if err := s.allow.check(s.get(c), c); err != nil {
			cerr.Problems = append(cerr.Problems, fmt.Sprintf("%s = %s (%s): %v", s.key, s.text(c), lc.Source[s.key], err))
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
	err := decodeFile(doc, c)
	if err == nil {
		return nil
	}
	known := make([]string, 0, 40)
	for _, s := range settings {
		if !slices.Contains(known, s.table()) {
			known = append(known, s.table())
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
	for _, s := range settings {
		if _, ok := s.field(&Config{}).(*Duration); !ok {
			continue
		}
		if kp, ok := lines[s.key]; ok && !strings.HasPrefix(kp.value, `"`) && !strings.HasPrefix(kp.value, "'") {
			return []string{fmt.Sprintf("line %d: %s: wrong type: got %s, want %s", kp.line, s.key, kp.value, s.want())}
		}
	}
	return []string{err.Error()}
}

// typeHint rewrites go-toml's "cannot decode TOML string into int" in the
// file's own terms.
func typeHint(key, msg string) string {
	want := "a value of another type"
	if s, ok := findSetting(key); ok {
		want = s.want()
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
// environment and its flags that were set) and keeps it in g.cfg, which
// dsn, box, wechatURL, logger and the remote commands read.
func (g *globals) loadConfig(cmd *cobra.Command) (*loadedConfig, error) {
	return g.loadConfigFor(cmd, false)
}

// loadConfigFor is loadConfig; with devConn, and no file named, it reads
// the connection file of a `wxnotify dev` running in the working directory
// or above (devconn.go), so the CLI in a second terminal finds it.
func (g *globals) loadConfigFor(cmd *cobra.Command, devConn bool) (*loadedConfig, error) {
	path := g.configPath()
	if path == "" && devConn {
		p, err := findDevConn(g.env)
		if err != nil {
			return nil, err
		}
		path = p
	}
	lc, err := LoadConfig(configInput{
		Path:   path,
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
	g.cfg = lc
	return lc, nil
}

// write prints the effective configuration as a TOML file, each key with
// where its value came from. It holds no secret: a DSN's password is
// redacted.
func (lc *loadedConfig) write(w io.Writer) error {
	tw := newTable(w)
	if lc.Path != "" {
		fmt.Fprintf(tw, "# effective configuration: %s, then the environment, then flags\n", lc.Path)
	} else {
		fmt.Fprintf(tw, "# effective configuration: defaults (no file), then the environment, then flags\n")
	}
	table := ""
	for _, s := range settings {
		if s.table() != table {
			tw.Flush()
			table = s.table()
			fmt.Fprintf(tw, "\n[%s]\n", table)
		}
		fmt.Fprintf(tw, "%s = %s\t# %s\n", s.name(), s.text(lc.Config), lc.Source[s.key])
	}
	return tw.Flush()
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
	for _, s := range settings {
		out.Settings = append(out.Settings, entry{s.key, s.shown(s.get(lc.Config)), lc.Source[s.key]})
	}
	return writeJSON(w, out)
}

func newConfigCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check the configuration file, print the effective configuration or an example file",
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
	cmd.AddCommand(check, newConfigExampleCommand(g), newConfigGenerateCommand())
	return cmd
}
