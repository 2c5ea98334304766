// Package mock has function-field implementations of the root interfaces,
// for tests of the packages that use them.
package mock

import (
	"context"

	"github.com/wxnotify/wxnotify"
)

var (
	_ wxnotify.TokenService  = (*TokenService)(nil)
	_ wxnotify.APIKeyService = (*APIKeyService)(nil)
)

// TokenService is a wxnotify.TokenService whose methods call the Func fields.
type TokenService struct {
	TokenFunc      func(ctx context.Context, appID string) (*wxnotify.AccessToken, error)
	InvalidateFunc func(ctx context.Context, appID string, token wxnotify.Secret) (*wxnotify.AccessToken, error)
	StatusFunc     func(ctx context.Context, appID string) (*wxnotify.TokenStatus, error)
	RefreshFunc    func(ctx context.Context, appID string) (*wxnotify.TokenStatus, error)
}

func (s *TokenService) Token(ctx context.Context, appID string) (*wxnotify.AccessToken, error) {
	return s.TokenFunc(ctx, appID)
}

func (s *TokenService) Invalidate(ctx context.Context, appID string, token wxnotify.Secret) (*wxnotify.AccessToken, error) {
	return s.InvalidateFunc(ctx, appID, token)
}

func (s *TokenService) Status(ctx context.Context, appID string) (*wxnotify.TokenStatus, error) {
	return s.StatusFunc(ctx, appID)
}

func (s *TokenService) Refresh(ctx context.Context, appID string) (*wxnotify.TokenStatus, error) {
	return s.RefreshFunc(ctx, appID)
}

// APIKeyService is a wxnotify.APIKeyService whose methods call the Func fields.
type APIKeyService struct {
	CreateAPIKeyFunc func(ctx context.Context, key *wxnotify.APIKey) (string, error)
	AuthenticateFunc func(ctx context.Context, plaintext string) (*wxnotify.APIKey, error)
	FindAPIKeysFunc  func(ctx context.Context) ([]*wxnotify.APIKey, error)
	DeleteAPIKeyFunc func(ctx context.Context, id string) error
}

func (s *APIKeyService) CreateAPIKey(ctx context.Context, key *wxnotify.APIKey) (string, error) {
	return s.CreateAPIKeyFunc(ctx, key)
}

func (s *APIKeyService) Authenticate(ctx context.Context, plaintext string) (*wxnotify.APIKey, error) {
	return s.AuthenticateFunc(ctx, plaintext)
}

func (s *APIKeyService) FindAPIKeys(ctx context.Context) ([]*wxnotify.APIKey, error) {
	return s.FindAPIKeysFunc(ctx)
}

func (s *APIKeyService) DeleteAPIKey(ctx context.Context, id string) error {
	return s.DeleteAPIKeyFunc(ctx, id)
}
