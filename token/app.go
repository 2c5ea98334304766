package token

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/store"
)

// AppService is the registry of mini programs. It is in this package because
// it seals the app secret, and this package is the only one that reads it.
type AppService struct {
	Store store.Executor
	Box   *seal.Box
	Now   func() time.Time
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
