package wxnotify

import (
	"context"
	"regexp"
	"time"
)

// CallbackMode is an app's message push encryption mode (消息加密方式), as set
// in the mini program's admin console next to the push URL.
type CallbackMode string

const (
	// CallbackPlain (明文模式): pushes are signed with the Token only; the
	// body is not encrypted and not covered by the signature.
	CallbackPlain CallbackMode = "plain"
	// CallbackCompat (兼容模式): WeChat may push either form; encrypted
	// pushes are decrypted, plain ones are checked as in plain mode.
	CallbackCompat CallbackMode = "compat"
	// CallbackSafe (安全模式): every push is encrypted with the
	// EncodingAESKey and signed over the ciphertext; plain pushes are refused.
	CallbackSafe CallbackMode = "safe"
)

var (
	callbackTokenPattern  = regexp.MustCompile(`^[0-9A-Za-z]{3,32}$`)
	encodingAESKeyPattern = regexp.MustCompile(`^[0-9A-Za-z]{43}$`)
)

// CallbackConfig is an app's push configuration: what wxnotify needs to
// check and decrypt what WeChat POSTs to /wechat/callback/{appid}. Token and
// EncodingAESKey are secrets, sealed at rest and never returned.
type CallbackConfig struct {
	AppID string `json:"appid"`
	// Token is the push Token (令牌): 3 to 32 letters or digits.
	Token Secret `json:"-"`
	// EncodingAESKey is the 43-character message key; required in compat
	// and safe mode, empty in plain mode.
	EncodingAESKey Secret       `json:"-"`
	Mode           CallbackMode `json:"mode"`
	UpdatedAt      time.Time    `json:"updated_at"`
}

// Validate checks the fields as WeChat's console does; it returns EINVALID
// naming the field (never quoting a secret).
func (c *CallbackConfig) Validate() error {
	switch {
	case !appIDPattern.MatchString(c.AppID):
		return FieldErrorf("appid", "appid must be \"wx\" followed by 16 letters or digits")
	case !callbackTokenPattern.MatchString(c.Token.Reveal()):
		return FieldErrorf("token", "token must be 3 to 32 letters or digits")
	}
	switch c.Mode {
	case CallbackPlain:
		if c.EncodingAESKey != "" {
			return FieldErrorf("encoding_aes_key", "plain mode takes no EncodingAESKey")
		}
	case CallbackCompat, CallbackSafe:
		if !encodingAESKeyPattern.MatchString(c.EncodingAESKey.Reveal()) {
			return FieldErrorf("encoding_aes_key", "encoding_aes_key must be 43 letters or digits in %s mode", c.Mode)
		}
	default:
		return FieldErrorf("mode", "mode must be %q, %q or %q", CallbackPlain, CallbackCompat, CallbackSafe)
	}
	return nil
}

// CallbackConfigService keeps the apps' push configurations.
type CallbackConfigService interface {
	// SetCallbackConfig creates or replaces the app's configuration, sealing
	// its secrets. Returns EINVALID for a bad field and ENOTFOUND for an
	// unknown app.
	SetCallbackConfig(ctx context.Context, c *CallbackConfig) error
	// CallbackConfig returns the app's configuration with its secrets in
	// clear, for the callback handler only. Returns ENOTFOUND when the app
	// is unknown or has no configuration.
	CallbackConfig(ctx context.Context, appID string) (*CallbackConfig, error)
	// DeleteCallbackConfig removes it; pushes for the app are then refused.
	// Returns ENOTFOUND when there is none.
	DeleteCallbackConfig(ctx context.Context, appID string) error
}
