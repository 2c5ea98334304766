package store

import (
	"fmt"
	"time"
)

// Session is a mini-program session row. The token itself is never stored,
// only its SHA-256 (TokenHash); the session_key WeChat returned is AES-GCM
// ciphertext sealed by the session service.
type Session struct {
	TokenHash        []byte // SHA-256 of the session token: the key
	AppID            string
	OpenID           string
	SessionKeySealed []byte
	CreatedAt        time.Time
	ExpiresAt        time.Time // the session is unusable at Now >= ExpiresAt
}

// SessionInsertParams are the fields of a new session.
type SessionInsertParams struct {
	TokenHash        []byte
	AppID            string
	OpenID           string
	SessionKeySealed []byte
	Now              time.Time // CreatedAt
	ExpiresAt        time.Time
}

// Validate reports a malformed request. Drivers call it before touching the
// database.
func (p *SessionInsertParams) Validate() error {
	switch {
	case len(p.TokenHash) == 0:
		return fmt.Errorf("store: session insert: TokenHash required")
	case p.AppID == "":
		return fmt.Errorf("store: session insert: AppID required")
	case p.OpenID == "":
		return fmt.Errorf("store: session insert: OpenID required")
	case !p.ExpiresAt.After(p.Now):
		return fmt.Errorf("store: session insert: ExpiresAt %v not after Now %v", p.ExpiresAt, p.Now)
	}
	return nil
}

// AppCallback is an app's WeChat push configuration (消息推送): the Token
// that signs pushes and, for compatible and safe mode, the EncodingAESKey,
// both sealed by the token package. Mode is "plain", "compat" or "safe".
type AppCallback struct {
	AppID        string
	TokenSealed  []byte
	AESKeySealed []byte // nil in plain mode
	Mode         string
	UpdatedAt    time.Time
}
