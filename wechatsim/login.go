package wechatsim

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// handleCode2Session serves GET /sns/jscode2session (auth.code2Session) with appid, secret,
// js_code and grant_type=authorization_code. Errors, in order: 40002 grant_type is not
// authorization_code (missing or wrong), 41002 appid missing, 40013 unknown appid, 41004
// secret missing ("appsecret missing"), 40125 wrong secret, 41008 js_code missing ("missing
// code"), 40029 unknown or expired code (codes live LoginCodeLifetime), 40163 code already
// used. Success returns openid, session_key and, for apps with App.UnionID, unionid. Like the
// real server it answers with Content-Type text/plain.
//
// The reference lists only -1, 40029, 45011 and 40226 for this endpoint; 41002, 41004 and
// 41008 are what community reports show for a missing appid, secret or js_code, and 40002 is
// WeChat's answer to a wrong grant_type on its other sns endpoints. The order of the checks is
// not documented. 40226 (high-risk user) and 45011 (100 calls a minute per user) are not
// simulated; inject them as faults. See docs/wechat.md, "Errcodes".
func (s *Server) handleCode2Session(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("grant_type") != "authorization_code" {
		writeErr(w, ctPlain, 40002, "")
		return
	}
	// The token endpoint's checks from here on (its grant_type check passes by construction).
	a, code := s.credentials("client_credential", q.Get("appid"), q.Get("secret"))
	if code != 0 {
		writeErr(w, ctPlain, code, "")
		return
	}
	jsCode := q.Get("js_code")
	if jsCode == "" {
		writeErr(w, ctPlain, 41008, "")
		return
	}
	now := s.Now()
	a.mu.Lock()
	c := a.codes[jsCode]
	switch {
	case c == nil || !now.Before(c.expires):
		code = 40029
	case c.used:
		code = 40163
	default:
		c.used = true
	}
	a.mu.Unlock()
	if code != 0 {
		writeErr(w, ctPlain, code, "")
		return
	}
	resp := struct {
		SessionKey string `json:"session_key"`
		OpenID     string `json:"openid"`
		UnionID    string `json:"unionid,omitempty"`
	}{SessionKey: randomSessionKey(), OpenID: c.openid}
	if a.cfg.UnionID {
		resp.UnionID = unionID(a.cfg.AppID, c.openid)
	}
	b, _ := jsonMarshal(resp)
	writeRaw(w, ctPlain, b)
}

// randomSessionKey returns a session_key: base64 of 16 random bytes, as WeChat's are.
func randomSessionKey() string {
	b := make([]byte, 16)
	copy(b, randomID(16))
	return base64.StdEncoding.EncodeToString(b)
}

// unionID derives a stable unionid for openid. The simulator gives every app its own openids,
// so the unionid is keyed by the openid alone: tests that want one person across two apps use
// the same openid string in both.
func unionID(_, openid string) string {
	h := sha256.Sum256([]byte("union:" + openid))
	return "o6_bm" + base64.RawURLEncoding.EncodeToString(h[:])[:23]
}
