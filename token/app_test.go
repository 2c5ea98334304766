package token_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/token"
	"github.com/wxnotify/wxnotify/wechat"
	"github.com/wxnotify/wxnotify/wechatsim"
)

// TestAppService_CheckCredentials: with Check set, a wrong appid or secret
// is refused naming the field, and nothing is stored.
func TestAppService_CheckCredentials(t *testing.T) {
	t.Parallel()
	sim := wechatsim.New(wechatsim.Options{})
	sim.AddApp(wechatsim.App{AppID: appID, Secret: secret})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	key, _ := seal.ParseKey(seal.GenerateKey())
	box, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	st := testdb.Engines(t)[0].NewDB(t)(t)
	apps := &token.AppService{Store: st, Box: box, Check: token.WeChatFetcher{Client: wechat.New(wechat.Options{BaseURL: srv.URL})}}
	ctx := context.Background()
	for _, tt := range []struct {
		name, appID, secret, field string
	}{
		{"WrongSecret", appID, "not-the-secret-000000000000", "secret"},
		{"UnknownAppID", "wxffffffffffffffff", secret, "appid"},
	} {
		err := apps.CreateApp(ctx, &wxnotify.App{AppID: tt.appID, Secret: wxnotify.Secret(tt.secret)})
		if wxnotify.ErrorCode(err) != wxnotify.EINVALID || wxnotify.ErrorField(err) != tt.field {
			t.Fatalf("%s: %v, want EINVALID naming %s", tt.name, err, tt.field)
		}
		if _, err := apps.FindAppByID(ctx, tt.appID); wxnotify.ErrorCode(err) != wxnotify.ENOTFOUND {
			t.Fatalf("%s: the app was stored: %v", tt.name, err)
		}
	}
	if err := apps.CreateApp(ctx, &wxnotify.App{AppID: appID, Secret: secret}); err != nil {
		t.Fatalf("right credentials: %v", err)
	}
}
