package token

import (
	"context"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/wechat"
)

// WeChatFetcher fetches tokens from WeChat with the wechat client.
type WeChatFetcher struct {
	Client *wechat.Client
}

var _ Fetcher = WeChatFetcher{}

// FetchToken calls stable_token or the legacy token endpoint by mode.
func (f WeChatFetcher) FetchToken(ctx context.Context, appID string, secret wxnotify.Secret, mode wxnotify.TokenMode, force bool) (string, time.Duration, error) {
	var t wechat.AccessToken
	var err error
	if mode == wxnotify.TokenModeLegacy {
		t, err = f.Client.GetAccessToken(ctx, appID, secret.Reveal())
	} else {
		t, err = f.Client.GetStableAccessToken(ctx, appID, secret.Reveal(), force)
	}
	if err != nil {
		return "", 0, err
	}
	return t.Token, t.ExpiresIn, nil
}
