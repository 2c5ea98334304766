package token

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/wechat"
)

// AppService is the registry of mini programs. It is in this package because
// it seals the app secret, and this package is the only one that reads it.
type AppService struct {
	Store store.Executor
	Box   *seal.Box
	Now   func() time.Time
	// Check, when set, makes CreateApp fetch one token with the secret
	// before storing the app, so that a wrong appid or secret is refused at
	// once instead of failing every send later as "unavailable".
	Check Fetcher
}

var _ wxnotify.AppService = (*AppService)(nil)

func secretContext(appID string) string { return "app_secret:" + appID }

// CreateApp validates and stores an app with its secret sealed.
func (s *AppService) CreateApp(ctx context.Context, app *wxnotify.App) error {
	if app.TokenMode == "" {
		app.TokenMode = wxnotify.TokenModeStable
	}
	if err := app.Validate(); err != nil {
		return err
	}
	if s.Box == nil {
		return wxnotify.Errorf(wxnotify.EINTERNAL, "%v", seal.ErrNoKey)
	}
	if s.Check != nil {
		if err := checkCredentials(ctx, s.Check, app); err != nil {
			return err
		}
	}
	now := nowFunc(s.Now)().UTC()
	err := s.Store.AppInsert(ctx, &store.AppInsertParams{
		AppID:        app.AppID,
		Name:         app.Name,
		SecretSealed: s.Box.Seal([]byte(app.Secret.Reveal()), secretContext(app.AppID)),
		TokenMode:    string(app.TokenMode),
		Now:          now,
	})
	if errors.Is(err, store.ErrConflict) {
		return wxnotify.Errorf(wxnotify.ECONFLICT, "app %s is registered already", app.AppID)
	} else if err != nil {
		return fmt.Errorf("insert app: %w", err)
	}
	app.CreatedAt = now
	return nil
}

// FindAppByID returns the app without its secret.
func (s *AppService) FindAppByID(ctx context.Context, appID string) (*wxnotify.App, error) {
	row, err := s.Store.AppGet(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "app %s not found", appID)
	} else if err != nil {
		return nil, fmt.Errorf("get app: %w", err)
	}
	return appFromRow(row), nil
}

// FindApps returns every app without secrets.
func (s *AppService) FindApps(ctx context.Context) ([]*wxnotify.App, error) {
	rows, err := s.Store.AppList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	apps := make([]*wxnotify.App, len(rows))
	for i, r := range rows {
		apps[i] = appFromRow(r)
	}
	return apps, nil
}

// DeleteApp removes an app and its token.
func (s *AppService) DeleteApp(ctx context.Context, appID string) error {
	err := s.Store.AppDelete(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return wxnotify.Errorf(wxnotify.ENOTFOUND, "app %s not found", appID)
	} else if err != nil {
		return fmt.Errorf("delete app: %w", err)
	}
	return nil
}

func appFromRow(r *store.App) *wxnotify.App {
	return &wxnotify.App{AppID: r.AppID, Name: r.Name, TokenMode: wxnotify.TokenMode(r.TokenMode), CreatedAt: r.CreatedAt}
}

// checkCredentials fetches one token for app: WeChat's answer to a wrong
// appid (40013) or secret (40125, or 40001 on the token endpoints) is
// EINVALID naming the field; an unreachable WeChat is EUNAVAILABLE. The
// token is not kept: a stable_token fetch does not replace the token other
// systems hold, and the token service fetches its own.
func checkCredentials(ctx context.Context, f Fetcher, app *wxnotify.App) error {
	_, _, err := f.FetchToken(ctx, app.AppID, app.Secret, app.TokenMode, false)
	if err == nil {
		return nil
	}
	var we *wechat.Error
	if errors.As(err, &we) {
		switch we.ErrCode {
		case 40013:
			return wxnotify.FieldErrorf("appid", "WeChat does not know appid %s (40013)", app.AppID)
		case 40125, 40001:
			return wxnotify.FieldErrorf("secret", "WeChat refused the AppSecret of %s (%d): copy it again from the mini program's admin console (开发管理 → 开发设置)", app.AppID, we.ErrCode)
		case 40164:
			return wxnotify.Errorf(wxnotify.EINVALID, "WeChat refused this machine's IP for %s (40164): add it to the app's IP whitelist", app.AppID)
		}
	}
	if c := wechat.ClassOf(err); c == wechat.ClassRetry || c == wechat.ClassThrottle || c == wechat.ClassQuota {
		return wxnotify.Errorf(wxnotify.EUNAVAILABLE, "cannot check the secret of %s with WeChat now: %v", app.AppID, err)
	}
	return wxnotify.Errorf(wxnotify.EINVALID, "WeChat refused the credentials of %s: %v", app.AppID, err)
}
