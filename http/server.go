package http

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/wxnotify/wxnotify"
)

// DefaultMaxBodyBytes bounds a request body unless a route says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// Server serves wxnotify's HTTP API. Set the service fields before Open.
type Server struct {
	// Addr is the listen address; ":0" picks a free port (see URL).
	Addr   string
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64

	AppService     wxnotify.AppService
	APIKeyService  wxnotify.APIKeyService
	TokenService   wxnotify.TokenService
	MessageService wxnotify.MessageService

	// Broadcasts, recurring schedules and outcome webhooks (broadcast.go,
	// schedule.go, webhook.go). A nil service answers its routes with 503.
	BroadcastService wxnotify.BroadcastService
	ScheduleService  wxnotify.ScheduleService
	WebhookService   wxnotify.WebhookService
	// TemplateService is the template catalog (template.go); nil answers
	// its routes with 503.
	TemplateService wxnotify.TemplateService
	// JobService reports the instance's scheduled jobs (job.go); nil
	// answers GET /v1/jobs with 503.
	JobService wxnotify.JobService
	// AuditService keeps the operators' audit log (action.go): every
	// action is recorded there; nil records nothing and answers GET
	// /v1/audit with 503. HistoryService reads the dashboard's charts
	// (dashboard_action.go); nil answers them with 503.
	AuditService   wxnotify.AuditService
	HistoryService wxnotify.HistoryService

	// Mini-program surface (miniprogram.go) and WeChat push callback
	// (callback.go). A nil service answers its routes with 503.
	SessionService  wxnotify.SessionService
	CreditService   wxnotify.CreditService
	EventService    wxnotify.EventService
	CallbackConfigs CallbackConfigs
	// SeenKeys, when set, holds the callback's replay guard (timestamp and
	// nonce) for every instance sharing it; nil keeps it in this process.
	SeenKeys SeenKeys
	// SessionRate and SessionBurst limit each mini-program session's
	// requests (per second, and the burst above it); 0 means
	// DefaultSessionRate and DefaultSessionBurst.
	SessionRate  float64
	SessionBurst int
	// Now is the clock of the callback's timestamp and nonce checks and of
	// the rate limits; nil means time.Now.
	Now func() time.Time

	limiters *limiterSet
	nonces   *nonceCache

	// Metrics serves GET /metrics (Prometheus text format) when set.
	Metrics http.Handler
	// OnRequest, when set, is told of every request answered: its route
	// (the ServeMux pattern that matched, "GET /v1/messages/{id}", never
	// the raw path, so the metric's labels stay bounded), status and
	// duration. The metrics package counts them.
	OnRequest func(route string, status int, took time.Duration)
	// Ready reports whether the instance can serve: the database answers.
	// Nil means always ready. It is /readyz's "database" check when
	// ReadyChecks has none of that name.
	Ready func(ctx context.Context) error
	// ReadyChecks are the dependencies /readyz reports one by one (the
	// database, the secret key, WeChat); it answers 503 when one fails.
	ReadyChecks []ReadyCheck
	// Build says which build is running, for GET /healthz; nil omits it.
	Build any

	// Operator dashboard (dashboard.go, dashboard_action.go).
	// DashboardPassword is the operator's login; empty disables the
	// dashboard (404). Counts counts messages per state (the queue's
	// cards); nil answers them with 503. The charts read HistoryService.
	DashboardPassword wxnotify.Secret
	Counts            func(ctx context.Context) (map[string]int64, error)
	dash              *dashboardState

	// TrustedProxies are the reverse proxies (http.trusted_proxies) whose
	// X-Forwarded-For and X-Forwarded-Proto are believed (proxy.go): for the
	// dashboard login's per-source limits and its Secure cookie. Empty: no
	// proxy is trusted, the connection's address is the client's.
	TrustedProxies []netip.Prefix

	ln     net.Listener
	server *http.Server
	mux    *http.ServeMux
	routes []string // every pattern registered, in order (see Routes)
}

// NewServer returns a Server with its routes registered.
func NewServer() *Server {
	s := &Server{mux: http.NewServeMux()}
	s.server = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second, // broadcasts upload large bodies
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	s.handle("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, struct {
			Status string `json:"status"`
			Build  any    `json:"build,omitempty"`
		}{"ok", s.Build})
	})
	s.handle("GET /readyz", s.handleReady)
	s.handle("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if s.Metrics == nil {
			s.Error(w, r, wxnotify.Errorf(wxnotify.ENOTFOUND, "metrics are not enabled"))
			return
		}
		s.Metrics.ServeHTTP(w, r)
	})
	s.registerTokenRoutes()
	s.registerMessageRoutes()
	s.registerMiniProgramRoutes()
	s.registerCallbackRoutes()
	s.registerBroadcastRoutes()
	s.registerScheduleRoutes()
	s.registerWebhookRoutes()
	s.registerDashboardRoutes()
	s.registerCreditRoutes()
	s.registerTemplateRoutes()
	s.registerJobRoutes()
	s.registerActionRoutes()
	s.handle("GET /openapi.json", s.handleOpenAPI)
	s.handle("/", func(w http.ResponseWriter, r *http.Request) {
		s.Error(w, r, wxnotify.Errorf(wxnotify.ENOTFOUND, "no route %s %s", r.Method, r.URL.Path))
	})
	return s
}

// handle registers h for pattern and records the pattern, so Routes (and
// the test that keeps openapi.json true) sees every route.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.routes = append(s.routes, pattern)
	s.mux.HandleFunc(pattern, h)
}

// Routes returns every registered ServeMux pattern ("GET /v1/messages/{id}"),
// in registration order.
func (s *Server) Routes() []string {
	return slices.Clone(s.routes)
}

// ServeHTTP adds a request id, logs the request (never its body), and
// recovers from panics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > 64 {
		b := make([]byte, 8)
		rand.Read(b)
		id = hex.EncodeToString(b)
	}
	w.Header().Set("X-Request-Id", id)
	r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger().ErrorContext(r.Context(), "panic in handler", "request_id", id, "path", r.URL.Path, "panic", v)
			s.Error(w, r, wxnotify.Errorf(wxnotify.EINTERNAL, "internal error"))
		}
	}()
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.mux.ServeHTTP(rec, r)
	if s.OnRequest != nil {
		// The mux sets r.Pattern; "" only when nothing matched at all.
		s.OnRequest(cmp.Or(r.Pattern, "unmatched"), rec.status, time.Since(start))
	}
	// The access log never carries bodies, query strings or headers: they
	// can hold tokens, codes and form_ids.
	s.logger().DebugContext(r.Context(), "request", "request_id", id, "method", r.Method,
		"path", r.URL.Path, "status", rec.status, "duration_ms", float64(time.Since(start).Microseconds())/1000)
}

// statusRecorder remembers the status a handler wrote, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// deadlines) through the recorder.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Open starts listening and serving in the background.
//
// It refuses a DashboardPassword that DashboardPasswordStrength finds weak.
func (s *Server) Open() error {
	if s.DashboardPassword != "" {
		if err := DashboardPasswordStrength(s.DashboardPassword.Reveal()); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	go s.server.Serve(ln)
	return nil
}

// URL returns the base URL the server listens on.
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	host := s.ln.Addr().String()
	if strings.HasPrefix(host, "[::]") || strings.HasPrefix(host, "0.0.0.0") {
		_, port, _ := net.SplitHostPort(host)
		host = "127.0.0.1:" + port
	}
	return "http://" + host
}

// Close shuts the server down gracefully, waiting for requests in flight up
// to ctx's deadline.
func (s *Server) Close(ctx context.Context) error {
	if s.ln == nil {
		return nil
	}
	return s.server.Shutdown(ctx)
}

func (s *Server) maxBody() int64 {
	if s.MaxBodyBytes > 0 {
		return s.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

type requestIDKey struct{}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requireAPIKey wraps an operator-API handler: it authenticates the bearer
// key and puts it in the request context.
func (s *Server) requireAPIKey(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		key, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || key == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="wxnotify"`)
			s.Error(w, r, wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "API key required: Authorization: Bearer wxk_…"))
			return
		}
		k, err := s.APIKeyService.Authenticate(r.Context(), key)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		h(w, r.WithContext(wxnotify.NewContextWithAPIKey(r.Context(), k)))
	}
}

// ReadyCheck is one dependency /readyz reports. Check returns nil when
// the dependency is usable, with detail (any JSON value, or nil) for the
// operator; its error's wxnotify.ErrorMessage is shown, the rest logged.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) (detail any, err error)
}

// readyCheckResult is one check in the /readyz body.
type readyCheckResult struct {
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
	Detail any    `json:"detail,omitempty"`
}

// handleReady answers 200 when the instance can do its work, 503 otherwise,
// for load balancers and orchestrators: {"status":"ready"|"not_ready",
// "checks":{"database":{"ok":true},…}}, each check with its error.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := s.ReadyChecks
	if s.Ready != nil && !slices.ContainsFunc(checks, func(c ReadyCheck) bool { return c.Name == "database" }) {
		ready := s.Ready
		checks = append([]ReadyCheck{{Name: "database", Check: func(ctx context.Context) (any, error) {
			if err := ready(ctx); err != nil {
				return nil, fmt.Errorf("%w: %w", wxnotify.Errorf(wxnotify.EUNAVAILABLE, "the database does not answer"), err)
			}
			return nil, nil
		}}}, checks...)
	}
	status, code := "ready", http.StatusOK
	results := make(map[string]readyCheckResult, len(checks))
	for _, c := range checks {
		detail, err := c.Check(ctx)
		res := readyCheckResult{OK: err == nil, Detail: detail}
		if err != nil {
			status, code = "not_ready", http.StatusServiceUnavailable
			res.Error = wxnotify.ErrorMessage(err)
			s.logger().WarnContext(r.Context(), "not ready", "check", c.Name, "err", err)
		}
		results[c.Name] = res
	}
	if code != http.StatusOK {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, code, struct {
		Status string                      `json:"status"`
		Checks map[string]readyCheckResult `json:"checks"`
	}{status, results})
}
