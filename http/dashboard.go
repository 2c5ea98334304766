package http

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/dashboard"
)

// The operator dashboard: the pages of package dashboard under /dashboard/,
// the JSON they poll under /dashboard/api/, and an operator login.
//
// Rules:
//   - With no DashboardPassword every /dashboard path answers 404.
//   - The pages are public; every /dashboard/api/ route needs a session,
//     which POST /dashboard/login opens with the operator password
//     (compared in constant time) and POST /dashboard/logout ends.
//   - A session is a random token in an HttpOnly, SameSite=Strict cookie
//     (Secure over TLS, or behind a trusted proxy that says so: proxy.go),
//     kept server-side (as its hash) for DashboardSessionTTL; sessions live
//     in the instance's memory, so each instance has its own and a restart
//     logs everyone out.
//   - Login attempts are limited per source, and those of sources that
//     never logged in also together, so a flood cannot lock out the
//     operator's known address; Open refuses a weak password.
//   - POSTs are CSRF-safe: they must carry DashboardCSRFHeader (a header a
//     cross-site form cannot send), a JSON body, and pass
//     http.CrossOriginProtection (Sec-Fetch-Site / Origin).
//   - The dashboard sees every app: its API calls run with an all-apps
//     operator key in the context.
const (
	DashboardSessionTTL = 12 * time.Hour
	// DashboardMaxSessions bounds the sessions held; the one closest to
	// expiry is dropped first.
	DashboardMaxSessions = 1000
	// DashboardCookie names the session cookie.
	DashboardCookie = "wxnotify_dashboard"
	// DashboardCSRFHeader must be "1" on every dashboard POST.
	DashboardCSRFHeader = "X-Wxnotify-Dashboard"
	// DashboardLoginRate and DashboardLoginBurst limit login attempts per
	// source (an IPv4 address or an IPv6 /64; behind a trusted proxy, the
	// client it names: see Server.TrustedProxies), for the
	// DashboardLoginSources most recent sources.
	DashboardLoginRate    = 2
	DashboardLoginBurst   = 20
	DashboardLoginSources = 10_000
	// DashboardLoginAccountRate and DashboardLoginAccountBurst limit the
	// attempts of every source that never logged in, together: a flood from
	// many addresses is slowed to this, and cannot lock out the operator,
	// whose sources that logged in in the last DashboardKnownSourceTTL
	// (DashboardMaxKnownSources at most) are not counted here, only under
	// their own per-source limit.
	DashboardLoginAccountRate  = 5
	DashboardLoginAccountBurst = 100
	DashboardKnownSourceTTL    = 30 * 24 * time.Hour
	DashboardMaxKnownSources   = 1000
	// DashboardMinPasswordLen is the shortest operator password Open
	// accepts, in characters (DashboardPasswordStrength).
	DashboardMinPasswordLen = 12
	// DashboardTokenExpiringWithin: a token this close to expiry shows as
	// "expiring".
	DashboardTokenExpiringWithin = 10 * time.Minute
	// dashboardDisabled is the answer under /dashboard without a password.
	dashboardDisabled = "dashboard disabled: set WXNOTIFY_ADMIN_PASSWORD"
)

// dashboardState is the dashboard's part of a Server.
type dashboardState struct {
	mu       sync.Mutex
	sessions map[[sha256.Size]byte]time.Time // token hash → expiry
	login    *rate.Limiter                   // every source that never logged in
	sources  *limiterSet                     // each source's own attempts
	known    map[netip.Prefix]time.Time      // sources that logged in → until
	origin   *http.CrossOriginProtection
}

func (s *Server) registerDashboardRoutes() {
	s.dash = &dashboardState{
		sessions: map[[sha256.Size]byte]time.Time{},
		login:    rate.NewLimiter(DashboardLoginAccountRate, DashboardLoginAccountBurst),
		sources:  newLimiterSet(DashboardLoginSources),
		known:    map[netip.Prefix]time.Time{},
		origin:   http.NewCrossOriginProtection(),
	}
	static := http.StripPrefix("/dashboard/", http.FileServerFS(dashboard.Files))
	s.handle("GET /dashboard", s.dashboardPublic(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/dashboard/", http.StatusSeeOther)
	}))
	s.handle("GET /dashboard/", s.dashboardPublic(static.ServeHTTP))
	s.handle("POST /dashboard/login", s.dashboardPublic(s.dashboardPost(s.handleDashboardLogin)))
	s.handle("POST /dashboard/logout", s.dashboardPublic(s.dashboardPost(s.handleDashboardLogout)))
	s.handle("GET /dashboard/api/", s.requireDashboardSession(func(w http.ResponseWriter, r *http.Request) {
		s.Error(w, r, wxnotify.Errorf(wxnotify.ENOTFOUND, "no route %s %s", r.Method, r.URL.Path))
	}))
	s.handle("GET /dashboard/api/session", s.requireDashboardSession(s.handleDashboardSession))
	s.handle("GET /dashboard/api/apps", s.requireDashboardSession(s.handleDashboardApps))
	s.handle("GET /dashboard/api/queue", s.requireDashboardSession(s.handleDashboardQueue))
	s.handle("GET /dashboard/api/credits", s.requireDashboardSession(s.handleDashboardCredits))
	s.handle("GET /dashboard/api/messages", s.requireDashboardSession(s.handleDashboardMessages))
	s.handle("GET /dashboard/api/messages/{id}", s.requireDashboardSession(s.handleDashboardMessage))
	s.handle("GET /dashboard/api/broadcasts", s.requireDashboardSession(s.handleDashboardBroadcasts))
	s.registerDashboardActionRoutes()
}

// operatorContext carries the dashboard's all-apps operator key.
func operatorContext(ctx context.Context) context.Context {
	return wxnotify.NewContextWithAPIKey(ctx, &wxnotify.APIKey{ID: dashboardKeyID, Name: "dashboard", Apps: []string{wxnotify.AllApps}})
}

// dashboardKeyID is the id of the dashboard's operator key (no stored key
// has it: stored ids are random).
const dashboardKeyID = "dashboard"

// dashboardPublic answers 404 when the dashboard is disabled and sets the
// headers every dashboard answer carries.
func (s *Server) dashboardPublic(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.DashboardPassword == "" {
			s.Error(w, r, wxnotify.Errorf(wxnotify.ENOTFOUND, dashboardDisabled))
			return
		}
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		h(w, r)
	}
}

// dashboardPost refuses a POST that a cross-site page could have sent.
func (s *Server) dashboardPost(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.dash.origin.Check(r); err != nil {
			s.Error(w, r, wxnotify.Errorf(wxnotify.EFORBIDDEN, "cross-origin request refused"))
			return
		}
		if r.Header.Get(DashboardCSRFHeader) != "1" {
			s.Error(w, r, wxnotify.Errorf(wxnotify.EFORBIDDEN, "missing header %s: 1", DashboardCSRFHeader))
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			s.Error(w, r, wxnotify.Errorf(wxnotify.EINVALID, "Content-Type must be application/json"))
			return
		}
		h(w, r)
	}
}

// requireDashboardSession wraps a /dashboard/api/ handler: it needs a live
// session and runs with the operator key in the context.
func (s *Server) requireDashboardSession(h http.HandlerFunc) http.HandlerFunc {
	return s.dashboardPublic(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.dashboardSession(r); !ok {
			s.Error(w, r, wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "log in to the dashboard first"))
			return
		}
		h(w, r.WithContext(operatorContext(r.Context())))
	})
}

// dashboardSession returns the expiry of the request's session, if live.
func (s *Server) dashboardSession(r *http.Request) (time.Time, bool) {
	c, err := r.Cookie(DashboardCookie)
	if err != nil || c.Value == "" {
		return time.Time{}, false
	}
	h := sha256.Sum256([]byte(c.Value))
	s.dash.mu.Lock()
	defer s.dash.mu.Unlock()
	exp, ok := s.dash.sessions[h]
	if ok && !s.now().Before(exp) {
		delete(s.dash.sessions, h)
		return time.Time{}, false
	}
	return exp, ok
}

// newDashboardSession stores a new session and returns its token.
func (s *Server) newDashboardSession(now time.Time) (string, time.Time) {
	b := make([]byte, 32)
	rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	exp := now.Add(DashboardSessionTTL)
	d := s.dash
	d.mu.Lock()
	defer d.mu.Unlock()
	for h, e := range d.sessions {
		if !now.Before(e) {
			delete(d.sessions, h)
		}
	}
	for len(d.sessions) >= DashboardMaxSessions {
		var oldest [sha256.Size]byte
		var first time.Time
		for h, e := range d.sessions {
			if first.IsZero() || e.Before(first) {
				oldest, first = h, e
			}
		}
		delete(d.sessions, oldest)
	}
	d.sessions[sha256.Sum256([]byte(token))] = exp
	return token, exp
}

// knownSource reports whether src logged in within DashboardKnownSourceTTL.
func (s *Server) knownSource(src netip.Prefix, now time.Time) bool {
	s.dash.mu.Lock()
	defer s.dash.mu.Unlock()
	until, ok := s.dash.known[src]
	return ok && now.Before(until)
}

// rememberSource marks src as the operator's, dropping the one remembered
// longest ago when DashboardMaxKnownSources are held.
func (s *Server) rememberSource(src netip.Prefix, now time.Time) {
	d := s.dash
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.known[src]; !ok && len(d.known) >= DashboardMaxKnownSources {
		var oldest netip.Prefix
		var first time.Time
		for p, until := range d.known {
			if first.IsZero() || until.Before(first) {
				oldest, first = p, until
			}
		}
		delete(d.known, oldest)
	}
	d.known[src] = now.Add(DashboardKnownSourceTTL)
}

// DashboardPasswordStrength returns an error saying why password is too
// weak to guard the dashboard, or nil: at least DashboardMinPasswordLen
// characters, not nearly all the same one. The login limits slow guessing;
// they do not make a short password safe. Open refuses a weak one.
func DashboardPasswordStrength(password string) error {
	n := utf8.RuneCountInString(password)
	distinct := map[rune]bool{}
	for _, r := range password {
		distinct[r] = true
	}
	switch {
	case n < DashboardMinPasswordLen:
		return fmt.Errorf("the dashboard password (WXNOTIFY_ADMIN_PASSWORD) is too short: %d characters, want at least %d", n, DashboardMinPasswordLen)
	case len(distinct) < 4:
		return fmt.Errorf("the dashboard password (WXNOTIFY_ADMIN_PASSWORD) is too weak: %d distinct characters, want at least 4", len(distinct))
	}
	return nil
}

// passwordEqual compares in constant time, whatever the lengths.
func passwordEqual(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

func (s *Server) sessionCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: DashboardCookie, Value: value, Path: "/dashboard/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.viaTLS(r),
	}
}

// DashboardLoginRequest is the body of POST /dashboard/login.
type DashboardLoginRequest struct {
	Password string `json:"password"`
}

// DashboardSessionResponse says until when the session is valid.
type DashboardSessionResponse struct {
	ExpiresAt time.Time `json:"expires_at"`
}

// handleDashboardLogin checks the operator password and opens a session.
func (s *Server) handleDashboardLogin(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	src := loginSource(s.clientAddr(r))
	key := sha256.Sum256([]byte(src.String()))
	if ok, retry := s.dash.sources.allow(key, now, DashboardLoginRate, DashboardLoginBurst); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(retry.Seconds())))))
		s.Error(w, r, wxnotify.Errorf(wxnotify.ERATELIMIT, "too many login attempts from your address; try again in a moment"))
		return
	}
	if !s.knownSource(src, now) && !s.dash.login.AllowN(now, 1) {
		w.Header().Set("Retry-After", "1")
		s.Error(w, r, wxnotify.Errorf(wxnotify.ERATELIMIT, "too many login attempts; try again in a moment (an address that logged in before is not held up)"))
		return
	}
	var req DashboardLoginRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	if !passwordEqual(req.Password, s.DashboardPassword.Reveal()) {
		s.logger().WarnContext(r.Context(), "dashboard login refused", "remote", r.RemoteAddr, "source", src.String())
		s.Error(w, r, wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "wrong password"))
		return
	}
	s.rememberSource(src, now)
	token, exp := s.newDashboardSession(now)
	http.SetCookie(w, s.sessionCookie(r, token, int(DashboardSessionTTL/time.Second)))
	s.logger().InfoContext(r.Context(), "dashboard login", "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, &DashboardSessionResponse{ExpiresAt: exp})
}

// handleDashboardLogout ends the session, if any, and clears the cookie.
func (s *Server) handleDashboardLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(DashboardCookie); err == nil {
		s.dash.mu.Lock()
		delete(s.dash.sessions, sha256.Sum256([]byte(c.Value)))
		s.dash.mu.Unlock()
	}
	http.SetCookie(w, s.sessionCookie(r, "", -1))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleDashboardSession(w http.ResponseWriter, r *http.Request) {
	exp, _ := s.dashboardSession(r)
	writeJSON(w, http.StatusOK, &DashboardSessionResponse{ExpiresAt: exp})
}

// Token health as the dashboard shows it.
const (
	TokenHealthValid    = "valid"    // held, not close to expiry, no error since the fetch
	TokenHealthExpiring = "expiring" // held, within DashboardTokenExpiringWithin of expiry
	TokenHealthError    = "error"    // the last refresh failed after the last fetch
	TokenHealthExpired  = "expired"  // held but expired
	TokenHealthNone     = "none"     // never fetched yet (fetched on first use)
	TokenHealthUnknown  = "unknown"  // the status could not be read
)

// tokenHealth classifies a token status at now.
func tokenHealth(st *wxnotify.TokenStatus, now time.Time) string {
	switch {
	case st == nil:
		return TokenHealthUnknown
	case st.LastError != "" && !st.LastErrorAt.Before(st.FetchedAt):
		return TokenHealthError
	case !st.HasToken:
		return TokenHealthNone
	case !now.Before(st.ExpiresAt):
		return TokenHealthExpired
	case st.ExpiresAt.Sub(now) <= DashboardTokenExpiringWithin:
		return TokenHealthExpiring
	}
	return TokenHealthValid
}

// DashboardApp is an app with its token's health.
type DashboardApp struct {
	*wxnotify.App
	Token  *wxnotify.TokenStatus `json:"token,omitempty"`
	Health string                `json:"health"`
}

func (s *Server) handleDashboardApps(w http.ResponseWriter, r *http.Request) {
	if s.AppService == nil {
		s.Error(w, r, wxnotify.Errorf(wxnotify.EUNAVAILABLE, "apps are not available on this instance"))
		return
	}
	apps, err := s.AppService.FindApps(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	now := s.now()
	out := make([]*DashboardApp, len(apps))
	for i, a := range apps {
		a.Secret = ""
		out[i] = &DashboardApp{App: a}
		if s.TokenService != nil {
			st, err := s.TokenService.Status(r.Context(), a.AppID)
			if err != nil {
				s.logger().WarnContext(r.Context(), "dashboard: token status", "appid", a.AppID, "err", err)
			}
			out[i].Token = st
		}
		out[i].Health = tokenHealth(out[i].Token, now)
	}
	writeJSON(w, http.StatusOK, map[string]any{"apps": out})
}

// DashboardQueue is the queue depth now and the messages per state.
type DashboardQueue struct {
	Queued        int64            `json:"queued"`
	WaitingCredit int64            `json:"waiting_credit"`
	Sending       int64            `json:"sending"`
	Counts        map[string]int64 `json:"counts"`
}

func (s *Server) handleDashboardQueue(w http.ResponseWriter, r *http.Request) {
	if s.Counts == nil {
		s.Error(w, r, wxnotify.Errorf(wxnotify.EUNAVAILABLE, "message counts are not available on this instance"))
		return
	}
	counts, err := s.Counts(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &DashboardQueue{
		Queued: counts[string(wxnotify.MessageQueued)], WaitingCredit: counts[string(wxnotify.MessageWaitingCredit)],
		Sending: counts[string(wxnotify.MessageSending)], Counts: counts,
	})
}

func (s *Server) handleDashboardCredits(w http.ResponseWriter, r *http.Request) {
	if s.CreditService == nil {
		s.Error(w, r, wxnotify.Errorf(wxnotify.EUNAVAILABLE, "credits are not available on this instance"))
		return
	}
	var f wxnotify.CreditFilter
	if v := r.URL.Query().Get("appid"); v != "" {
		f.AppID = &v
	}
	stocks, err := s.CreditService.CreditStocks(r.Context(), f)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"stocks": stocks})
}

// handleDashboardMessages lists messages, newest first, filtered by appid,
// state and openid; before pages to ids below it.
func (s *Server) handleDashboardMessages(w http.ResponseWriter, r *http.Request) {
	if s.MessageService == nil {
		s.Error(w, r, wxnotify.Errorf(wxnotify.EUNAVAILABLE, "messages are not available on this instance"))
		return
	}
	q := r.URL.Query()
	f := wxnotify.MessageFilter{Limit: 100}
	if v := q.Get("appid"); v != "" {
		f.AppID = &v
	}
	if v := q.Get("openid"); v != "" {
		f.OpenID = &v
	}
	if v := q.Get("state"); v != "" {
		st := wxnotify.MessageState(v)
		if !st.Terminal() && st != wxnotify.MessageQueued && st != wxnotify.MessageWaitingCredit && st != wxnotify.MessageSending {
			s.Error(w, r, wxnotify.FieldErrorf("state", "unknown state %q", v))
			return
		}
		f.State = &st
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 1000 {
			s.Error(w, r, wxnotify.FieldErrorf("limit", "must be 1 to 1000"))
			return
		}
		f.Limit = n
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			s.Error(w, r, wxnotify.FieldErrorf("before", "must be a message id"))
			return
		}
		f.AfterID = n
	}
	msgs, err := s.MessageService.FindMessages(r.Context(), f)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs})
}

func (s *Server) handleDashboardMessage(w http.ResponseWriter, r *http.Request) {
	if s.MessageService == nil {
		s.Error(w, r, wxnotify.Errorf(wxnotify.EUNAVAILABLE, "messages are not available on this instance"))
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.Error(w, r, wxnotify.FieldErrorf("id", "must be a message id"))
		return
	}
	m, attempts, err := s.MessageService.FindMessageByID(r.Context(), id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if attempts == nil {
		attempts = []*wxnotify.Attempt{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": m, "attempts": attempts})
}

// dashboardMaxBroadcasts bounds the broadcasts one request returns.
const dashboardMaxBroadcasts = 20

// handleDashboardBroadcasts returns the broadcasts named by ?id=1,2, or
// else those of the newest 1000 messages.
func (s *Server) handleDashboardBroadcasts(w http.ResponseWriter, r *http.Request) {
	if s.BroadcastService == nil || s.MessageService == nil {
		s.Error(w, r, wxnotify.Errorf(wxnotify.EUNAVAILABLE, "broadcasts are not available on this instance"))
		return
	}
	var ids []int64
	if v := r.URL.Query().Get("id"); v != "" {
		for p := range strings.SplitSeq(v, ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
			if err != nil || id <= 0 {
				s.Error(w, r, wxnotify.FieldErrorf("id", "must be broadcast ids separated by commas"))
				return
			}
			ids = append(ids, id)
		}
	} else {
		msgs, err := s.MessageService.FindMessages(r.Context(), wxnotify.MessageFilter{Limit: 1000})
		if err != nil {
			s.Error(w, r, err)
			return
		}
		for _, m := range msgs {
			if m.BroadcastID != 0 && !slices.Contains(ids, m.BroadcastID) {
				ids = append(ids, m.BroadcastID)
			}
		}
	}
	if len(ids) > dashboardMaxBroadcasts {
		ids = ids[:dashboardMaxBroadcasts]
	}
	out := make([]*wxnotify.Broadcast, 0, len(ids))
	for _, id := range ids {
		b, err := s.BroadcastService.FindBroadcastByID(r.Context(), id)
		if wxnotify.ErrorCode(err) == wxnotify.ENOTFOUND {
			continue
		} else if err != nil {
			s.Error(w, r, err)
			return
		}
		out = append(out, b)
	}
	writeJSON(w, http.StatusOK, map[string]any{"broadcasts": out})
}
