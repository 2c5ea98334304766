package token

import (
	"context"
	"errors"
	"fmt"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/store"
)

// Secret returns the app's AppSecret in clear, for the other WeChat calls
// that authenticate with it rather than an access_token (jscode2session).
// Callers must keep it in the wxnotify.Secret type and never log it. Returns
// ENOTFOUND for an unknown app.
func (s *AppService) Secret(ctx context.Context, appID string) (wxnotify.Secret, error) {
	if s.Box == nil {
		return "", wxnotify.Errorf(wxnotify.EINTERNAL, "%v", seal.ErrNoKey)
	}
	row, err := s.Store.AppGet(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return "", wxnotify.Errorf(wxnotify.ENOTFOUND, "app %s not found", appID)
	} else if err != nil {
		return "", fmt.Errorf("get app: %w", err)
	}
	pt, err := s.Box.Open(row.SecretSealed, secretContext(appID))
	if err != nil {
		return "", fmt.Errorf("open secret of app %s: %w", appID, err)
	}
	return wxnotify.Secret(pt), nil
}
