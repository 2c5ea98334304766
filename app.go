package wxnotify

import (
	"context"
	"regexp"
	"time"
)

// TokenMode selects how an app's access_token is fetched from WeChat.
type TokenMode string

const (
	// TokenModeStable fetches with POST /cgi-bin/stable_token in normal mode:
	// WeChat returns the same token while it is valid, so a fetch by anyone
	// else (another tool, a colleague's script) does not invalidate ours. The
	// default.
	TokenModeStable TokenMode = "stable"
	// TokenModeLegacy fetches with GET /cgi-bin/token: each fetch issues a new
	// token and the previous one stops working five minutes later. Only for
	// apps whose other tools still use that endpoint.
	TokenModeLegacy TokenMode = "legacy"
)

// Valid reports whether m is a known mode; the empty mode means the default.
func (m TokenMode) Valid() bool {
	return m == "" || m == TokenModeStable || m == TokenModeLegacy
}

// MaxAppNameLen is the longest display name of an app, in characters.
const MaxAppNameLen = 100

var appIDPattern = regexp.MustCompile(`^wx[0-9a-zA-Z]{16}$`)

// App is one mini program registered with wxnotify. A deployment serves many.
type App struct {
	// AppID is WeChat's id of the mini program ("wx" and 16 characters). It
	// is the key of the app everywhere in wxnotify.
	AppID string `json:"appid"`
	// Name is a display name for operators.
	Name string `json:"name"`
	// Secret is the AppSecret. It is stored encrypted at rest and is never
	// printed, logged or returned: only the token service reads it.
	Secret Secret `json:"-"`
	// TokenMode selects stable_token (default) or the legacy token endpoint.
	TokenMode TokenMode `json:"token_mode"`
	// CreatedAt is set by the store.
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks the app's fields; it returns EINVALID naming the field.
func (a *App) Validate() error {
	switch {
	case !appIDPattern.MatchString(a.AppID):
		return FieldErrorf("appid", "appid must be \"wx\" followed by 16 letters or digits")
	case a.Secret == "":
		return FieldErrorf("secret", "secret required")
	case len([]rune(a.Name)) > MaxAppNameLen:
		return FieldErrorf("name", "name must be at most %d characters", MaxAppNameLen)
	case !a.TokenMode.Valid():
		return FieldErrorf("token_mode", "token_mode must be %q or %q", TokenModeStable, TokenModeLegacy)
	}
	return nil
}

// AppService is the registry of mini programs.
type AppService interface {
	// CreateApp registers an app. The secret is encrypted before it is
	// stored. Returns EINVALID for a bad field and ECONFLICT when the appid
	// is registered already.
	CreateApp(ctx context.Context, app *App) error
	// FindAppByID returns the app without its secret (Secret is empty).
	// Returns ENOTFOUND if there is no such app.
	FindAppByID(ctx context.Context, appID string) (*App, error)
	// FindApps returns every app, ordered by appid, without secrets.
	FindApps(ctx context.Context) ([]*App, error)
	// DeleteApp removes an app with its token. Returns ENOTFOUND if there is
	// no such app.
	DeleteApp(ctx context.Context, appID string) error
}
