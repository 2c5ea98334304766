package wechatsim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// token is one issued access_token.
type token struct {
	value   string
	app     *app
	stable  bool
	expires time.Time    // natural expiry: issue + TokenLifetime; after it the token is 42001
	cutoff  atomic.Int64 // unix nanos after which a superseded token answers 40001; 0 = none
	revoked atomic.Bool  // RevokeTokens or force refresh: 40001 at once
}

// check returns 0 when t may be used at now, else the errcode WeChat answers:
// 40001 for a revoked token or one superseded more than TokenOverlap ago, 42001 for an
// expired one.
func (t *token) check(now time.Time) int {
	if t.revoked.Load() {
		return 40001
	}
	if c := t.cutoff.Load(); c != 0 && now.UnixNano() >= c {
		return 40001
	}
	if !now.Before(t.expires) {
		return 42001
	}
	return 0
}

// supersede makes t stop working TokenOverlap after now (or at its own expiry if sooner).
func (t *token) supersede(now time.Time) {
	c := now.Add(TokenOverlap).UnixNano()
	if c > t.expires.UnixNano() {
		c = t.expires.UnixNano()
	}
	if old := t.cutoff.Load(); old == 0 || old > c {
		t.cutoff.Store(c)
	}
}

func (s *Server) newToken(a *app, stable bool, now time.Time) *token {
	t := &token{
		value:   strconv.Itoa(int(s.seq.Add(1))%90+10) + "_" + randomID(96),
		app:     a,
		stable:  stable,
		expires: now.Add(TokenLifetime),
	}
	s.tokens.Store(t.value, t)
	return t
}

// prune drops tokens that can never work again from list and from the token index;
// a.mu must be held.
func (s *Server) prune(list []*token, now time.Time) []*token {
	out := list[:0]
	for _, t := range list {
		// A token gone from the index answers 40001 like any unknown token, which is what a
		// revoked or cut-off token answers anyway; expired ones stay an hour to answer 42001.
		if c := t.check(now); c == 40001 || c == 42001 && now.Sub(t.expires) > time.Hour {
			s.tokens.Delete(t.value)
			continue
		}
		out = append(out, t)
	}
	return out
}

// RevokeTokens simulates another party force-refreshing the app: every token of either kind
// issued so far answers 40001 from now on. Later fetches issue fresh tokens.
func (s *Server) RevokeTokens(appid string) {
	if a := s.app(appid); a != nil {
		s.revoke(a)
	}
}

func (s *Server) revoke(a *app) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, t := range a.tokens {
		t.revoked.Store(true)
	}
	for _, t := range a.stable {
		t.revoked.Store(true)
	}
}

// credentials checks grant_type, appid and secret in WeChat's order and returns the app or
// an errcode: 40002 grant_type is not client_credential, 41002 appid missing, 40013 unknown
// appid, 41004 secret missing, 40125 wrong secret.
func (s *Server) credentials(grantType, appid, secret string) (*app, int) {
	switch {
	case grantType != "client_credential":
		return nil, 40002
	case appid == "":
		return nil, 41002
	}
	a := s.app(appid)
	switch {
	case a == nil:
		return nil, 40013
	case secret == "":
		return a, 41004
	case secret != a.cfg.Secret:
		return a, 40125
	}
	return a, 0
}

// handleToken serves GET /cgi-bin/token (getAccessToken). Every successful call issues a new
// token with expires_in 7200; the app's earlier tokens keep working for TokenOverlap more, then
// answer 40001. Beyond App.DailyTokenQuota calls a day (reset at midnight UTC+8): 45009.
// Like the real server it labels its JSON "application/json; encoding=utf-8" (only
// jscode2session says text/plain; see ctJSON).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, a *app) {
	q := r.URL.Query()
	a, code := s.credentials(q.Get("grant_type"), q.Get("appid"), q.Get("secret"))
	if code != 0 {
		writeErr(w, ctJSON, code, "")
		return
	}
	now := s.Now()
	a.mu.Lock()
	if d := dayOf(now); d != a.tokenDay {
		a.tokenDay, a.tokenN = d, 0
	}
	if a.tokenN >= a.cfg.DailyTokenQuota {
		a.mu.Unlock()
		writeErr(w, ctJSON, 45009, "")
		return
	}
	a.tokenN++
	for _, t := range a.tokens {
		t.supersede(now)
	}
	a.tokens = s.prune(a.tokens, now)
	t := s.newToken(a, false, now)
	a.tokens = append(a.tokens, t)
	a.mu.Unlock()
	writeToken(w, ctJSON, t.value, TokenLifetime)
}

// handleStableToken serves POST /cgi-bin/stable_token (getStableAccessToken), JSON body
// {grant_type, appid, secret, force_refresh}. Stable tokens are isolated from /cgi-bin/token
// tokens.
//
// Normal mode returns the current token while it has more than TokenOverlap left, with
// expires_in the remaining seconds; within its last TokenOverlap it issues a new token and the
// old one keeps working until its own expiry. force_refresh=true invalidates every earlier
// stable token at once (40001) and issues a new one; at most StableForceDailyQuota refreshes a
// day (then 45009), and a force refresh within StableForceInterval of the last one returns the
// current token unchanged ("否则不会刷新"). Beyond StableTokenDailyQuota calls a day: 45009.
// Malformed JSON: 47001.
func (s *Server) handleStableToken(w http.ResponseWriter, r *http.Request, a *app, body []byte) {
	var req struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeErr(w, ctJSON, 47001, "")
		return
	}
	a, code := s.credentials(req.GrantType, req.AppID, req.Secret)
	if code != 0 {
		writeErr(w, ctJSON, code, "")
		return
	}
	now := s.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if d := dayOf(now); d != a.stableDay {
		a.stableDay, a.stableN, a.forceN = d, 0, 0
	}
	if a.stableN >= StableTokenDailyQuota {
		writeErr(w, ctJSON, 45009, "")
		return
	}
	a.stableN++
	var cur *token
	if n := len(a.stable); n > 0 && a.stable[n-1].check(now) == 0 {
		cur = a.stable[n-1]
	}
	issue := func() {
		a.stable = s.prune(a.stable, now)
		cur = s.newToken(a, true, now)
		a.stable = append(a.stable, cur)
	}
	switch {
	case req.ForceRefresh && cur != nil && now.Sub(a.lastForce) < StableForceInterval:
		// Too soon after the last refresh: no refresh.
	case req.ForceRefresh:
		if a.forceN >= StableForceDailyQuota {
			writeErr(w, ctJSON, 45009, "")
			return
		}
		a.forceN++
		a.lastForce = now
		for _, t := range a.stable {
			t.revoked.Store(true)
		}
		issue()
	case cur == nil || cur.expires.Sub(now) <= TokenOverlap:
		issue()
	}
	writeToken(w, ctJSON, cur.value, cur.expires.Sub(now))
}

func writeToken(w http.ResponseWriter, ct, value string, left time.Duration) {
	b := make([]byte, 0, 64+len(value))
	b = append(b, `{"access_token":"`...)
	b = append(b, value...)
	b = append(b, `","expires_in":`...)
	b = strconv.AppendInt(b, int64(left.Round(time.Second)/time.Second), 10)
	b = append(b, '}')
	writeRaw(w, ct, b)
}
