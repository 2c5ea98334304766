package token

import (
	"context"
	"time"
)

// DefaultCheckInterval is how often the token-refresh job looks for tokens due.
const DefaultCheckInterval = 5 * time.Second

// RefreshDue refreshes every app's token that is due (or has none), so
// that sends find a fresh token in memory. Errors are recorded per app and
// logged; one app's failure does not stop the others. It returns the first
// error that is not about a single app (the database).
func (s *Service) RefreshDue(ctx context.Context) error {
	s.init()
	apps, err := s.Store.AppList(ctx)
	if err != nil {
		return err
	}
	for _, app := range apps {
		due, err := s.NextRefresh(ctx, app.AppID)
		if err != nil {
			return err
		}
		if s.Now().Before(due) {
			continue
		}
		if _, err := s.Token(ctx, app.AppID); err != nil && ctx.Err() == nil {
			s.Logger.Warn("scheduled token refresh failed", "appid", app.AppID, "err", err)
		}
	}
	return nil
}
