package token

import (
	"context"
	"errors"
	"fmt"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/store"
)

var _ wxnotify.CallbackConfigService = (*AppService)(nil)

func callbackTokenContext(appID string) string  { return "callback_token:" + appID }
func callbackAESKeyContext(appID string) string { return "callback_aes_key:" + appID }

// SetCallbackConfig validates and stores the app's push configuration with
// the Token and EncodingAESKey sealed.
func (s *AppService) SetCallbackConfig(ctx context.Context, c *wxnotify.CallbackConfig) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if s.Box == nil {
		return wxnotify.Errorf(wxnotify.EINTERNAL, "%v", seal.ErrNoKey)
	}
	now := nowFunc(s.Now)().UTC()
	row := &store.AppCallback{
		AppID:       c.AppID,
		TokenSealed: s.Box.Seal([]byte(c.Token.Reveal()), callbackTokenContext(c.AppID)),
		Mode:        string(c.Mode),
		UpdatedAt:   now,
	}
	if c.EncodingAESKey != "" {
		row.AESKeySealed = s.Box.Seal([]byte(c.EncodingAESKey.Reveal()), callbackAESKeyContext(c.AppID))
	}
	err := s.Store.AppCallbackSet(ctx, row)
	if errors.Is(err, store.ErrNotFound) {
		return wxnotify.Errorf(wxnotify.ENOTFOUND, "app %s not found", c.AppID)
	} else if err != nil {
		return fmt.Errorf("set app callback: %w", err)
	}
	c.UpdatedAt = now
	return nil
}

// CallbackConfig returns the app's push configuration with its secrets
// opened.
func (s *AppService) CallbackConfig(ctx context.Context, appID string) (*wxnotify.CallbackConfig, error) {
	if s.Box == nil {
		return nil, wxnotify.Errorf(wxnotify.EINTERNAL, "%v", seal.ErrNoKey)
	}
	row, err := s.Store.AppCallbackGet(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "app %s has no push configuration", appID)
	} else if err != nil {
		return nil, fmt.Errorf("get app callback: %w", err)
	}
	tok, err := s.Box.Open(row.TokenSealed, callbackTokenContext(appID))
	if err != nil {
		return nil, fmt.Errorf("open callback token of app %s: %w", appID, err)
	}
	c := &wxnotify.CallbackConfig{
		AppID: appID, Token: wxnotify.Secret(tok), Mode: wxnotify.CallbackMode(row.Mode), UpdatedAt: row.UpdatedAt,
	}
	if row.AESKeySealed != nil {
		key, err := s.Box.Open(row.AESKeySealed, callbackAESKeyContext(appID))
		if err != nil {
			return nil, fmt.Errorf("open callback EncodingAESKey of app %s: %w", appID, err)
		}
		c.EncodingAESKey = wxnotify.Secret(key)
	}
	return c, nil
}

// DeleteCallbackConfig removes the app's push configuration.
func (s *AppService) DeleteCallbackConfig(ctx context.Context, appID string) error {
	err := s.Store.AppCallbackDelete(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return wxnotify.Errorf(wxnotify.ENOTFOUND, "app %s has no push configuration", appID)
	} else if err != nil {
		return fmt.Errorf("delete app callback: %w", err)
	}
	return nil
}
