package token

import (
	"context"
	"fmt"

	"github.com/wxnotify/wxnotify/internal/seal"
)

// CheckKey reports whether the configured secret key opens the secrets
// stored for the apps, so an instance started with the wrong key refuses
// to start (and /readyz reports it) instead of failing every token fetch
// later. It opens one app's secret: every secret is sealed with the one
// key. It returns an error wrapping seal.ErrWrongKey when that key is
// another, and nil when no app is registered yet. The error names the app,
// never its secret.
func (s *AppService) CheckKey(ctx context.Context) error {
	if s.Box == nil {
		return seal.ErrNoKey
	}
	apps, err := s.Store.AppList(ctx)
	if err != nil {
		return fmt.Errorf("list apps: %w", err)
	}
	if len(apps) == 0 {
		return nil
	}
	if _, err := s.Box.Open(apps[0].SecretSealed, secretContext(apps[0].AppID)); err != nil {
		return fmt.Errorf("open the secret of app %s: %w", apps[0].AppID, err)
	}
	return nil
}
