package token_test

import (
	"bytes"
	"testing"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/token"
)

func TestAppService_SecretAndCallbackConfig(t *testing.T) {
	t.Parallel()
	const (
		app    = "wxcccccccccccccccc"
		secret = "app-secret-value-123"
		push   = "pushToken123"
		aesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	)
	for _, e := range testdb.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			st := e.NewDB(t)(t)
			box, err := seal.New(bytes.Repeat([]byte{9}, seal.KeySize))
			if err != nil {
				t.Fatal(err)
			}
			apps := &token.AppService{Store: st, Box: box}
			if err := apps.CreateApp(ctx, &wxnotify.App{AppID: app, Secret: secret}); err != nil {
				t.Fatal(err)
			}

			got, err := apps.Secret(ctx, app)
			if err != nil || got.Reveal() != secret {
				t.Fatalf("Secret=%q, %v", got.Reveal(), err)
			}
			if _, err := apps.Secret(ctx, "wxdddddddddddddddd"); wxnotify.ErrorCode(err) != wxnotify.ENOTFOUND {
				t.Fatalf("Secret of unknown app: %v", err)
			}

			if _, err := apps.CallbackConfig(ctx, app); wxnotify.ErrorCode(err) != wxnotify.ENOTFOUND {
				t.Fatalf("CallbackConfig before set: %v", err)
			}
			for _, bad := range []*wxnotify.CallbackConfig{
				{AppID: app, Token: "x", Mode: wxnotify.CallbackPlain},                          // token too short
				{AppID: app, Token: push, Mode: wxnotify.CallbackSafe},                          // no key
				{AppID: app, Token: push, EncodingAESKey: "short", Mode: wxnotify.CallbackSafe}, // bad key
				{AppID: app, Token: push, EncodingAESKey: aesKey, Mode: wxnotify.CallbackPlain}, // key in plain mode
				{AppID: app, Token: push, Mode: "secret"},
			} {
				if err := apps.SetCallbackConfig(ctx, bad); wxnotify.ErrorCode(err) != wxnotify.EINVALID {
					t.Fatalf("SetCallbackConfig(%+v): %v, want EINVALID", bad, err)
				}
			}
			if err := apps.SetCallbackConfig(ctx, &wxnotify.CallbackConfig{AppID: "wxdddddddddddddddd", Token: push, Mode: wxnotify.CallbackPlain}); wxnotify.ErrorCode(err) != wxnotify.ENOTFOUND {
				t.Fatalf("SetCallbackConfig unknown app: %v", err)
			}

			if err := apps.SetCallbackConfig(ctx, &wxnotify.CallbackConfig{AppID: app, Token: push, EncodingAESKey: aesKey, Mode: wxnotify.CallbackSafe}); err != nil {
				t.Fatal(err)
			}
			c, err := apps.CallbackConfig(ctx, app)
			if err != nil {
				t.Fatal(err)
			}
			if c.Token.Reveal() != push || c.EncodingAESKey.Reveal() != aesKey || c.Mode != wxnotify.CallbackSafe {
				t.Fatalf("CallbackConfig=%+v", c)
			}
			row, err := st.AppCallbackGet(ctx, app)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(row.TokenSealed, []byte(push)) || bytes.Contains(row.AESKeySealed, []byte(aesKey)) {
				t.Fatal("push secrets stored in clear")
			}
			if err := apps.DeleteCallbackConfig(ctx, app); err != nil {
				t.Fatal(err)
			}
			if err := apps.DeleteCallbackConfig(ctx, app); wxnotify.ErrorCode(err) != wxnotify.ENOTFOUND {
				t.Fatalf("DeleteCallbackConfig twice: %v", err)
			}
		})
	}
}
