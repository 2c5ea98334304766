// Package session logs mini-program users in: it exchanges a wx.login code
// for the user's openid through jscode2session and hands the page an opaque
// session token, so that every later mini-program request names its user
// through the token and never through a field the page could forge.
//
// Only SHA-256 of a token is stored. The session_key WeChat returns is
// sealed (context "session_key:"+appid) and kept for later use; it is never
// returned, logged or put in an error.
package session

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/wechat"
)

// TokenPrefix starts every session token, so a leaked one is recognisable
// (and an API key sent by mistake is not looked up as a session).
const TokenPrefix = "wxs_"

// tokenBytes is the randomness of a token: 256 bits.
const tokenBytes = 32

// MaxCodeLen bounds a wx.login code (WeChat's are 32 characters).
const MaxCodeLen = 128

// DefaultPurgeInterval is how often the session-purge job deletes expired sessions
// unless configured.
const DefaultPurgeInterval = time.Hour

// tokenEncoding writes tokens as lowercase base32 without padding.
var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// tokenLen is the length of a well-formed token.
var tokenLen = len(TokenPrefix) + tokenEncoding.EncodedLen(tokenBytes)

// Secrets gives the app secret jscode2session needs; *token.AppService
// implements it (token is the only package that reads app secrets).
type Secrets interface {
	Secret(ctx context.Context, appID string) (wxnotify.Secret, error)
}

// Exchanger calls jscode2session; *wechat.Client implements it.
type Exchanger interface {
	Code2Session(ctx context.Context, appID, secret, jsCode string) (wechat.Session, error)
}

// Service implements wxnotify.SessionService. Store, Box, Secrets and
// WeChat are required; the other fields have working zero values.
type Service struct {
	Store   store.Executor
	Box     *seal.Box
	Secrets Secrets
	WeChat  Exchanger
	// TTL is how long a session lasts; 0 means wxnotify.DefaultSessionTTL.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

var _ wxnotify.SessionService = (*Service)(nil)

func sessionKeyContext(appID string) string { return "session_key:" + appID }

// Login exchanges code for a session and returns its token. A code works
// once: WeChat answers 40163 to the second exchange, which is EINVALID here.
// Errors: EINVALID (field "code") for a missing, malformed, wrong, expired
// or used code; ENOTFOUND for an unknown app; EFORBIDDEN when WeChat blocks
// the user's login (40226); EUNAVAILABLE when WeChat is busy or unreachable.
// Nothing is stored unless the whole login succeeds.
func (s *Service) Login(ctx context.Context, appID, code string) (string, *wxnotify.Session, error) {
	if code == "" {
		return "", nil, wxnotify.FieldErrorf("code", "code required: the code from wx.login")
	} else if len(code) > MaxCodeLen || strings.ContainsFunc(code, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return "", nil, wxnotify.FieldErrorf("code", "code is not a wx.login code")
	}
	if s.Box == nil {
		return "", nil, wxnotify.Errorf(wxnotify.EINTERNAL, "%v", seal.ErrNoKey)
	}
	secret, err := s.Secrets.Secret(ctx, appID)
	if err != nil {
		return "", nil, err
	}
	ws, err := s.WeChat.Code2Session(ctx, appID, secret.Reveal(), code)
	if err != nil {
		return "", nil, s.loginError(ctx, appID, err)
	}

	tok, hash := newToken()
	now := s.now()
	sess := &wxnotify.Session{AppID: appID, OpenID: ws.OpenID, ExpiresAt: now.Add(s.ttl()).Truncate(store.TimePrecision)}
	p := &store.SessionInsertParams{
		TokenHash: hash[:],
		AppID:     appID,
		OpenID:    ws.OpenID,
		Now:       now,
		ExpiresAt: sess.ExpiresAt,
	}
	if ws.SessionKey != "" {
		p.SessionKeySealed = s.Box.Seal([]byte(ws.SessionKey), sessionKeyContext(appID))
	}
	if err := s.Store.SessionInsert(ctx, p); errors.Is(err, store.ErrNotFound) {
		return "", nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "app %s not found", appID)
	} else if err != nil {
		return "", nil, fmt.Errorf("insert session: %w", err)
	}
	s.logger().InfoContext(ctx, "mini-program login", "appid", appID, "openid", wxnotify.Mask(ws.OpenID))
	return tok, sess, nil
}

// loginError turns a jscode2session failure into a wxnotify error. The
// wechat errors carry neither the secret nor the code.
func (s *Service) loginError(ctx context.Context, appID string, err error) error {
	var we *wechat.Error
	if errors.As(err, &we) {
		switch we.ErrCode {
		case 40029:
			return wxnotify.FieldErrorf("code", "code is invalid or expired: call wx.login again")
		case 40163:
			return wxnotify.FieldErrorf("code", "code was used already: call wx.login again")
		case 40226:
			return wxnotify.Errorf(wxnotify.EFORBIDDEN, "WeChat refused this user's login (40226)")
		case 45011:
			return wxnotify.Errorf(wxnotify.ERATELIMIT, "WeChat login rate limit reached; retry later")
		}
	}
	if c := wechat.ClassOf(err); c == wechat.ClassRetry || c == wechat.ClassThrottle {
		s.logger().WarnContext(ctx, "jscode2session unavailable", "appid", appID, "err", err)
		return wxnotify.Errorf(wxnotify.EUNAVAILABLE, "WeChat login is unavailable; retry later")
	}
	// A wrong appid or secret (40013, 40125, 40001) is the operator's to fix:
	// EINTERNAL, logged in full by the HTTP layer, shown as "Internal error.".
	return fmt.Errorf("jscode2session for app %s: %w", appID, err)
}

// Authenticate returns the session the token names. An unknown, malformed
// or expired token is EUNAUTHORIZED, with the same message for all three.
func (s *Service) Authenticate(ctx context.Context, token string) (*wxnotify.Session, error) {
	hash, ok := hashToken(token)
	if !ok {
		return nil, errUnauthorized
	}
	row, err := s.Store.SessionGet(ctx, hash[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized
	} else if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	if !s.now().Before(row.ExpiresAt) {
		return nil, errUnauthorized
	}
	return &wxnotify.Session{AppID: row.AppID, OpenID: row.OpenID, ExpiresAt: row.ExpiresAt}, nil
}

var errUnauthorized = wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "session invalid or expired: log in again")

// PurgeExpired deletes sessions that have expired and returns how many.
func (s *Service) PurgeExpired(ctx context.Context) (int64, error) {
	n, err := s.Store.SessionDeleteExpired(ctx, s.now())
	if err != nil {
		return 0, fmt.Errorf("purge sessions: %w", err)
	}
	return n, nil
}

// newToken returns a fresh token and its hash.
func newToken() (string, [sha256.Size]byte) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		panic("session: no randomness: " + err.Error()) // crypto/rand never fails on supported systems
	}
	tok := TokenPrefix + tokenEncoding.EncodeToString(b)
	return tok, sha256.Sum256([]byte(tok))
}

// hashToken returns the hash of a well-formed token, and false without
// hashing anything for input that cannot be one.
func hashToken(tok string) ([sha256.Size]byte, bool) {
	if len(tok) != tokenLen || !strings.HasPrefix(tok, TokenPrefix) {
		return [sha256.Size]byte{}, false
	}
	if _, err := tokenEncoding.DecodeString(tok[len(TokenPrefix):]); err != nil {
		return [sha256.Size]byte{}, false
	}
	return sha256.Sum256([]byte(tok)), true
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) ttl() time.Duration { return cmp.Or(s.TTL, wxnotify.DefaultSessionTTL) }

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Purge is the session-purge job: PurgeExpired, logged.
func (s *Service) Purge(ctx context.Context) error {
	n, err := s.PurgeExpired(ctx)
	if err != nil {
		return fmt.Errorf("purge expired sessions: %w", err)
	}
	if n > 0 {
		s.logger().InfoContext(ctx, "purged expired sessions", "count", n)
	}
	return nil
}
