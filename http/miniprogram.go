package http

import (
	"container/list"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/wxnotify/wxnotify"
)

// The mini-program surface: endpoints a page calls with wx.request, under
// /mp/v1/apps/{appid}/. The user is always the one the session token names;
// a body that tries to name a user (openid, touser, …) is refused, never
// read. Every body is validated whole before the one service call, and the
// services are all-or-nothing, so a refused request changes nothing.

// Limits of the mini-program surface.
const (
	// MiniProgramMaxBodyBytes bounds a mini-program request body.
	MiniProgramMaxBodyBytes = 16 << 10
	// DefaultSessionRate and DefaultSessionBurst limit each session:
	// requests per second, and how many may come at once above that.
	DefaultSessionRate  = 5
	DefaultSessionBurst = 20
	// DefaultMaxSessionLimiters bounds the sessions whose rate is tracked;
	// the least recently seen is forgotten first.
	DefaultMaxSessionLimiters = 10_000
	// MaxCreditValueLen bounds one reported form_id.
	MaxCreditValueLen = 128
	// MaxSubscribeAnswers bounds the templates in one subscribe result.
	MaxSubscribeAnswers = 20
	// MaxTemplateIDLen bounds a template id (WeChat's are 43 characters).
	MaxTemplateIDLen = 128
)

// SessionHeader is the alternative to "Authorization: Bearer" for pages
// that cannot set that header.
const SessionHeader = "X-WX-Session"

// userFields are body fields that would name a user. The user comes from the
// session; a body naming one is refused so that a page (or someone replaying
// its requests) cannot act for another user. Compared case-insensitively.
var userFields = []string{"openid", "open_id", "touser", "to_user", "unionid", "union_id"}

func (s *Server) registerMiniProgramRoutes() {
	s.limiters = newLimiterSet(DefaultMaxSessionLimiters)
	s.handle("POST /mp/v1/apps/{appid}/login", s.handleMPLogin)
	s.handle("POST /mp/v1/apps/{appid}/form_ids", s.requireSession(s.handleMPFormIDs))
	s.handle("POST /mp/v1/apps/{appid}/subscriptions", s.requireSession(s.handleMPSubscriptions))
	s.handle("GET /mp/v1/apps/{appid}/credits", s.requireSession(s.handleMPCredits))
}

// LoginRequest is the body of POST /mp/v1/apps/{appid}/login.
type LoginRequest struct {
	Code string `json:"code"` // from wx.login
}

// LoginResponse is the answer to a login. It holds neither the openid nor
// the session_key: the page never needs them to talk to wxnotify, and what
// it does not have it cannot send back.
type LoginResponse struct {
	SessionToken string    `json:"session_token"`
	ExpiresAt    time.Time `json:"expires_at"`
	ExpiresIn    int64     `json:"expires_in"` // seconds
}

// handleMPLogin exchanges a wx.login code for a session token.
func (s *Server) handleMPLogin(w http.ResponseWriter, r *http.Request) {
	appID := r.PathValue("appid")
	if err := checkAppIDFormat(appID); err != nil {
		s.Error(w, r, err)
		return
	}
	var req LoginRequest
	if _, err := s.decodeMiniProgram(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	if req.Code == "" {
		s.Error(w, r, wxnotify.FieldErrorf("code", "code required: the code from wx.login"))
		return
	}
	if s.SessionService == nil {
		s.Error(w, r, errNotConfigured("login"))
		return
	}
	tok, sess, err := s.SessionService.Login(r.Context(), appID, req.Code)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, &LoginResponse{
		SessionToken: tok,
		ExpiresAt:    sess.ExpiresAt,
		ExpiresIn:    int64(sess.ExpiresAt.Sub(s.now()).Seconds()),
	})
}

// FormIDsRequest is the body of POST /mp/v1/apps/{appid}/form_ids.
type FormIDsRequest struct {
	FormIDs []string `json:"form_ids"`
}

// FormIDsResponse says how many of the reported form_ids were new.
type FormIDsResponse struct {
	Added int `json:"added"`
}

// handleMPFormIDs records form_ids the page collected for its user.
func (s *Server) handleMPFormIDs(w http.ResponseWriter, r *http.Request) {
	sess := wxnotify.SessionFromContext(r.Context())
	var req FormIDsRequest
	if _, err := s.decodeMiniProgram(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	if err := validateFormIDs(req.FormIDs); err != nil {
		s.Error(w, r, err)
		return
	}
	if s.CreditService == nil {
		s.Error(w, r, errNotConfigured("credits"))
		return
	}
	n, err := s.CreditService.AddFormIDs(r.Context(), sess.AppID, sess.OpenID, wxnotify.CreditFormID, req.FormIDs, "miniprogram")
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &FormIDsResponse{Added: n})
}

func validateFormIDs(ids []string) error { return validateCreditValues("form_ids", "form_id", ids) }

// validateCreditValues checks a batch of form_ids or prepay_ids (what),
// reported under field.
func validateCreditValues(field, what string, ids []string) error {
	switch {
	case ids == nil:
		return wxnotify.FieldErrorf(field, "%s required: an array of %s strings", field, what)
	case len(ids) == 0:
		return wxnotify.FieldErrorf(field, "%s is empty", field)
	case len(ids) > wxnotify.MaxFormIDsPerReport:
		return wxnotify.FieldErrorf(field, "at most %d values per report, got %d", wxnotify.MaxFormIDsPerReport, len(ids))
	}
	for i, id := range ids {
		f := field + "[" + strconv.Itoa(i) + "]"
		switch {
		case id == "":
			return wxnotify.FieldErrorf(f, "%s is empty", what)
		case len(id) > MaxCreditValueLen:
			return wxnotify.FieldErrorf(f, "%s longer than %d bytes", what, MaxCreditValueLen)
		case id != wxnotify.MockFormID && !printableASCII(id):
			return wxnotify.FieldErrorf(f, "%s must be printable ASCII", what)
		}
	}
	return nil
}

// SubscribeResponse says how many template answers were recorded.
type SubscribeResponse struct {
	Recorded int `json:"recorded"`
	Accepted int `json:"accepted"`
}

// handleMPSubscriptions records the result object of
// wx.requestSubscribeMessage: {TEMPLATE_ID: "accept"|"reject"|"ban"|"filter",
// "errMsg": "requestSubscribeMessage:ok"}. errMsg is ignored.
func (s *Server) handleMPSubscriptions(w http.ResponseWriter, r *http.Request) {
	sess := wxnotify.SessionFromContext(r.Context())
	fields, err := s.decodeMiniProgram(w, r, nil)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	result, accepted, err := parseSubscribeResult(fields)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if s.CreditService == nil {
		s.Error(w, r, errNotConfigured("credits"))
		return
	}
	if err := s.CreditService.RecordSubscribeResult(r.Context(), sess.AppID, sess.OpenID, result, "miniprogram"); err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &SubscribeResponse{Recorded: len(result), Accepted: accepted})
}

func parseSubscribeResult(fields map[string]json.RawMessage) (map[string]wxnotify.SubscribeChoice, int, error) {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if k != "errMsg" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys) // the first error reported is always the same one
	switch {
	case len(keys) == 0:
		return nil, 0, wxnotify.Errorf(wxnotify.EINVALID, "no template answers: send the result object of wx.requestSubscribeMessage")
	case len(keys) > MaxSubscribeAnswers:
		return nil, 0, wxnotify.Errorf(wxnotify.EINVALID, "at most %d template answers per report, got %d", MaxSubscribeAnswers, len(keys))
	}
	result := make(map[string]wxnotify.SubscribeChoice, len(keys))
	accepted := 0
	for _, k := range keys {
		if len(k) > MaxTemplateIDLen || !isTemplateID(k) {
			return nil, 0, wxnotify.FieldErrorf(k, "not a template id")
		}
		var v string
		if err := json.Unmarshal(fields[k], &v); err != nil {
			return nil, 0, wxnotify.FieldErrorf(k, "answer must be \"accept\", \"reject\", \"ban\" or \"filter\"")
		}
		c, ok := wxnotify.ParseSubscribeChoice(v)
		if !ok {
			return nil, 0, wxnotify.FieldErrorf(k, "answer must be \"accept\" (or \"acceptWith…\"), \"reject\", \"ban\" or \"filter\"")
		}
		if c == wxnotify.SubscribeAccept {
			accepted++
		}
		result[k] = c
	}
	return result, accepted, nil
}

// CreditsResponse lists the user's usable credits.
type CreditsResponse struct {
	Credits []CreditCount `json:"credits"`
}

// CreditCount is the user's usable credits of one kind (and template).
type CreditCount struct {
	Kind       wxnotify.CreditKind `json:"kind"`
	TemplateID string              `json:"template_id,omitempty"`
	Credits    int64               `json:"credits"`
	Uses       int64               `json:"uses"`
}

// handleMPCredits answers how many messages the page's user can still be
// sent, per kind and template.
func (s *Server) handleMPCredits(w http.ResponseWriter, r *http.Request) {
	sess := wxnotify.SessionFromContext(r.Context())
	if s.CreditService == nil {
		s.Error(w, r, errNotConfigured("credits"))
		return
	}
	stocks, err := s.CreditService.CreditStocks(r.Context(), wxnotify.CreditFilter{AppID: &sess.AppID, OpenID: &sess.OpenID})
	if err != nil {
		s.Error(w, r, err)
		return
	}
	resp := &CreditsResponse{Credits: make([]CreditCount, 0, len(stocks))}
	for _, st := range stocks {
		resp.Credits = append(resp.Credits, CreditCount{Kind: st.Kind, TemplateID: st.TemplateID, Credits: st.Credits, Uses: st.Uses})
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

// requireSession wraps a mini-program handler: it authenticates the session
// token, checks that the session belongs to the path's app, applies the
// session's rate limit, and puts the session in the request context.
func (s *Server) requireSession(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			tok = r.Header.Get(SessionHeader)
		}
		if tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="wxnotify-mp"`)
			s.Error(w, r, wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "session required: Authorization: Bearer wxs_… (from login)"))
			return
		}
		if s.SessionService == nil {
			s.Error(w, r, errNotConfigured("sessions"))
			return
		}
		sess, err := s.SessionService.Authenticate(r.Context(), tok)
		if err != nil {
			if wxnotify.ErrorCode(err) == wxnotify.EUNAUTHORIZED {
				w.Header().Set("WWW-Authenticate", `Bearer realm="wxnotify-mp", error="invalid_token"`)
			}
			s.Error(w, r, err)
			return
		}
		if sess.AppID != r.PathValue("appid") {
			s.Error(w, r, wxnotify.Errorf(wxnotify.EFORBIDDEN, "session belongs to another app"))
			return
		}
		// Keyed by the hash, so the limiter never holds a usable token.
		if ok, retry := s.limiters.allow(sha256.Sum256([]byte(tok)), s.now(), s.sessionRate(), s.sessionBurst()); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(retry.Seconds())))))
			s.Error(w, r, wxnotify.Errorf(wxnotify.ERATELIMIT, "too many requests for this session; retry later"))
			return
		}
		h(w, r.WithContext(wxnotify.NewContextWithSession(r.Context(), sess)))
	}
}

// decodeMiniProgram reads a JSON object of at most MiniProgramMaxBodyBytes,
// refuses it if it names a user, and decodes it into v (unknown fields are
// errors) unless v is nil. It returns the object's fields.
func (s *Server) decodeMiniProgram(w http.ResponseWriter, r *http.Request, v any) (map[string]json.RawMessage, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MiniProgramMaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, wxnotify.Errorf(wxnotify.EINVALID, "request body larger than %d bytes", tooBig.Limit)
		}
		return nil, wxnotify.Errorf(wxnotify.EINVALID, "cannot read request body")
	}
	if err := checkJSONText(body, ""); err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		var syntaxErr *json.SyntaxError
		if errors.As(err, &syntaxErr) {
			return nil, wxnotify.Errorf(wxnotify.EINVALID, "malformed JSON at byte %d", syntaxErr.Offset)
		}
		return nil, wxnotify.Errorf(wxnotify.EINVALID, "request body must be a JSON object")
	}
	for k := range fields {
		for _, f := range userFields {
			if strings.EqualFold(k, f) {
				return nil, wxnotify.FieldErrorf(k, "%s is not accepted: the user is the one the session names", k)
			}
		}
	}
	if v == nil {
		return fields, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, wxnotify.FieldErrorf(typeErr.Field, "wrong type: want %s", typeErr.Type)
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			f, _ = strconv.Unquote(f)
			return nil, wxnotify.FieldErrorf(f, "unknown field %q", f)
		}
		return nil, wxnotify.Errorf(wxnotify.EINVALID, "invalid JSON body")
	}
	return fields, nil
}

func errNotConfigured(what string) error {
	return wxnotify.Errorf(wxnotify.EUNAVAILABLE, "%s not configured on this server", what)
}

// checkAppIDFormat refuses a path appid that cannot be one, before any
// lookup.
func checkAppIDFormat(appID string) error {
	if len(appID) != 18 || !strings.HasPrefix(appID, "wx") || !isAlnum(appID[2:]) {
		return wxnotify.FieldErrorf("appid", "appid must be \"wx\" followed by 16 letters or digits")
	}
	return nil
}

func isAlnum(s string) bool {
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// isTemplateID reports whether s looks like a subscribe template id: letters,
// digits, '-' and '_'.
func isTemplateID(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for _, c := range []byte(s) {
		if c < '!' || c > '~' {
			return false
		}
	}
	return true
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) sessionRate() rate.Limit {
	if s.SessionRate > 0 {
		return rate.Limit(s.SessionRate)
	}
	return DefaultSessionRate
}

func (s *Server) sessionBurst() int {
	if s.SessionBurst > 0 {
		return s.SessionBurst
	}
	return DefaultSessionBurst
}

// limiterSet holds a token-bucket limiter per key, at most max of them; the
// least recently used is dropped first (it then starts again with a full
// burst, which only ever errs towards allowing).
type limiterSet struct {
	mu  sync.Mutex
	max int
	ll  *list.List // of *limiterEntry, most recently used first
	m   map[[sha256.Size]byte]*list.Element
}

type limiterEntry struct {
	key [sha256.Size]byte
	lim *rate.Limiter
}

func newLimiterSet(max int) *limiterSet {
	return &limiterSet{max: max, ll: list.New(), m: make(map[[sha256.Size]byte]*list.Element)}
}

// allow takes one token for key at now, or says how long until one is due.
func (ls *limiterSet) allow(key [sha256.Size]byte, now time.Time, r rate.Limit, burst int) (bool, time.Duration) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var lim *rate.Limiter
	if e, ok := ls.m[key]; ok {
		ls.ll.MoveToFront(e)
		lim = e.Value.(*limiterEntry).lim
	} else {
		for ls.ll.Len() >= ls.max {
			last := ls.ll.Back()
			ls.ll.Remove(last)
			delete(ls.m, last.Value.(*limiterEntry).key)
		}
		lim = rate.NewLimiter(r, burst)
		ls.m[key] = ls.ll.PushFront(&limiterEntry{key: key, lim: lim})
	}
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Second
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// len returns how many limiters are held, for tests.
func (ls *limiterSet) len() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.ll.Len()
}
