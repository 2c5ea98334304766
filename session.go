package wxnotify

import (
	"context"
	"time"
)

// DefaultSessionTTL is how long a mini-program session lasts.
const DefaultSessionTTL = 7 * 24 * time.Hour

// Session is a mini-program user's login with wxnotify, made from a
// wx.login code through jscode2session. The openid of every mini-program
// request comes from here, never from the request body.
type Session struct {
	AppID     string    `json:"appid"`
	OpenID    string    `json:"openid"`
	ExpiresAt time.Time `json:"expires_at"`
}

// SessionService logs mini-program users in.
type SessionService interface {
	// Login exchanges a wx.login code for a session. It returns the session
	// token (random; only its hash is stored) to send back to the page. The
	// session_key WeChat returns is kept server-side, sealed, and never
	// returned. Returns EINVALID for a bad code (40029, 40163), ENOTFOUND for
	// an unknown app.
	Login(ctx context.Context, appID, code string) (token string, s *Session, err error)
	// Authenticate returns the session a token names, or EUNAUTHORIZED when
	// it is unknown or expired.
	Authenticate(ctx context.Context, token string) (*Session, error)
}

type sessionContextKey struct{}

// NewContextWithSession returns ctx carrying the mini-program session.
func NewContextWithSession(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, sessionContextKey{}, s)
}

// SessionFromContext returns the mini-program session, or nil.
func SessionFromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionContextKey{}).(*Session)
	return s
}
