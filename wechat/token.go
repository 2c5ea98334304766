package wechat

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Endpoint paths.
const (
	pathToken        = "/cgi-bin/token"
	pathStableToken  = "/cgi-bin/stable_token"
	pathCode2Session = "/sns/jscode2session"
)

// AccessToken is an app's credential for every other endpoint. It redacts
// Token under fmt (%v, %+v, %#v), slog and encoding/json, so it cannot leak
// through a log line or a serialised struct; read the field to use or store
// it.
type AccessToken struct {
	Token     string        // access_token; a secret
	ExpiresIn time.Duration // lifetime from the moment WeChat answered (up to 2h)
}

// String redacts Token.
func (t AccessToken) String() string {
	return "AccessToken{Token:" + mask(t.Token) + " ExpiresIn:" + t.ExpiresIn.String() + "}"
}

// GoString redacts Token under %#v.
func (t AccessToken) GoString() string {
	return "wechat.AccessToken{Token:" + strconv.Quote(mask(t.Token)) + ", ExpiresIn:" + strconv.FormatInt(int64(t.ExpiresIn), 10) + "}"
}

// LogValue redacts Token in slog output.
func (t AccessToken) LogValue() slog.Value {
	return slog.GroupValue(slog.String("token", mask(t.Token)), slog.Duration("expires_in", t.ExpiresIn))
}

// MarshalJSON redacts Token.
func (t AccessToken) MarshalJSON() ([]byte, error) {
	return encodeJSON(struct {
		Token     string `json:"token"`
		ExpiresIn int64  `json:"expires_in"`
	}{mask(t.Token), int64(t.ExpiresIn / time.Second)})
}

// Session is the answer of jscode2session. It redacts SessionKey under fmt,
// slog and encoding/json; read the field to use or store it.
type Session struct {
	OpenID     string // the user's id within this app
	SessionKey string // key for the user's encrypted data; a secret
	UnionID    string // the user's id across the developer's apps; may be ""
}

// String redacts SessionKey.
func (s Session) String() string {
	return "Session{OpenID:" + s.OpenID + " SessionKey:" + mask(s.SessionKey) + " UnionID:" + s.UnionID + "}"
}

// GoString redacts SessionKey under %#v.
func (s Session) GoString() string {
	return "wechat.Session{OpenID:" + strconv.Quote(s.OpenID) + ", SessionKey:" + strconv.Quote(mask(s.SessionKey)) + ", UnionID:" + strconv.Quote(s.UnionID) + "}"
}

// LogValue redacts SessionKey in slog output.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(slog.String("openid", s.OpenID), slog.String("session_key", mask(s.SessionKey)), slog.String("unionid", s.UnionID))
}

// MarshalJSON redacts SessionKey.
func (s Session) MarshalJSON() ([]byte, error) {
	return encodeJSON(struct {
		OpenID     string `json:"openid"`
		SessionKey string `json:"session_key"`
		UnionID    string `json:"unionid,omitempty"`
	}{s.OpenID, mask(s.SessionKey), s.UnionID})
}

// mask returns a form of a secret that is safe to print: its first 4
// characters and its length for long values, and only the length otherwise.
func mask(v string) string {
	if len(v) < 16 {
		return "…(" + strconv.Itoa(len(v)) + ")"
	}
	return v[:4] + "…(" + strconv.Itoa(len(v)) + ")"
}

type tokenResponse struct {
	result
	AccessToken string  `json:"access_token"`
	ExpiresIn   flexInt `json:"expires_in"`
}

func (r *tokenResponse) token() (AccessToken, error) {
	if r.AccessToken == "" {
		return AccessToken{}, errors.New("no access_token in a success answer")
	}
	return AccessToken{Token: r.AccessToken, ExpiresIn: time.Duration(r.ExpiresIn) * time.Second}, nil
}

// GetAccessToken fetches an access_token with GET /cgi-bin/token
// (grant_type=client_credential). Each call issues a new token and voids the
// previous one after a grace period, so an app must have a single caller of
// this method. errcode 40001 here means the secret is wrong (ClassPermanent).
func (c *Client) GetAccessToken(ctx context.Context, appID, secret string) (AccessToken, error) {
	q := "grant_type=client_credential&appid=" + url.QueryEscape(appID) + "&secret=" + url.QueryEscape(secret)
	var r tokenResponse
	if err := c.call(ctx, http.MethodGet, pathToken, q, nil, nil, &r); err != nil {
		return AccessToken{}, err
	}
	t, err := r.token()
	if err != nil {
		return AccessToken{}, &DecodeError{Endpoint: pathToken, Err: err}
	}
	return t, nil
}

// GetStableAccessToken fetches an access_token with POST
// /cgi-bin/stable_token. With forceRefresh false WeChat returns the current
// token while it is valid (and rotates it only near expiry), so many callers
// may share it; with forceRefresh true it voids the current token at once
// and returns a new one — WeChat allows that about 20 times a day, at least
// 30 s apart. Stable tokens are independent of GetAccessToken's.
func (c *Client) GetStableAccessToken(ctx context.Context, appID, secret string, forceRefresh bool) (AccessToken, error) {
	body, err := encodeJSON(struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}{"client_credential", appID, secret, forceRefresh})
	if err != nil {
		return AccessToken{}, errors.New("wechat: " + pathStableToken + ": encode request")
	}
	var r tokenResponse
	if err := c.call(ctx, http.MethodPost, pathStableToken, "", body, c.jsonCT, &r); err != nil {
		return AccessToken{}, err
	}
	t, err := r.token()
	if err != nil {
		return AccessToken{}, &DecodeError{Endpoint: pathStableToken, Err: err}
	}
	return t, nil
}

type sessionResponse struct {
	result
	OpenID     string `json:"openid"`
	SessionKey string `json:"session_key"`
	UnionID    string `json:"unionid"`
}

// Code2Session exchanges a wx.login code for the user's session with GET
// /sns/jscode2session (grant_type=authorization_code). A code is valid for
// about five minutes and only once: 40029 (invalid) and 40163 (used) are
// ClassPermanent, as is 40226 (login blocked for a high-risk user).
func (c *Client) Code2Session(ctx context.Context, appID, secret, jsCode string) (Session, error) {
	q := "appid=" + url.QueryEscape(appID) + "&secret=" + url.QueryEscape(secret) +
		"&js_code=" + url.QueryEscape(jsCode) + "&grant_type=authorization_code"
	var r sessionResponse
	if err := c.call(ctx, http.MethodGet, pathCode2Session, q, nil, nil, &r); err != nil {
		return Session{}, err
	}
	if r.OpenID == "" {
		return Session{}, &DecodeError{Endpoint: pathCode2Session, Err: errors.New("no openid in a success answer")}
	}
	return Session{OpenID: r.OpenID, SessionKey: r.SessionKey, UnionID: r.UnionID}, nil
}
