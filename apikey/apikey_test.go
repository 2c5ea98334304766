package apikey_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/apikey"
	"github.com/wxnotify/wxnotify/internal/testdb"
)

func TestService(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines(t) {
		t.Run(engine.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			open := engine.NewDB(t)
			svc := &apikey.Service{Store: open(t)}
			k := &wxnotify.APIKey{Name: "orders", Apps: []string{"wxaaaaaaaaaaaaaaaa"}}
			plain, err := svc.CreateAPIKey(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(plain, apikey.Prefix+k.ID+"_") {
				t.Fatalf("key %q does not carry its id %q", plain, k.ID)
			}
			// Another instance authenticates it.
			other := &apikey.Service{Store: open(t)}
			got, err := other.Authenticate(ctx, plain)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != k.ID || !got.CanAccess("wxaaaaaaaaaaaaaaaa") || got.CanAccess("wxbbbbbbbbbbbbbbbb") {
				t.Fatalf("got %+v", got)
			}
			for _, bad := range []string{"", "wxk_", plain + "x", strings.Replace(plain, k.ID, "zzzzzzzz", 1), "Bearer " + plain} {
				if _, err := other.Authenticate(ctx, bad); wxnotify.ErrorCode(err) != wxnotify.EUNAUTHORIZED {
					t.Errorf("Authenticate(%q): err=%v, want EUNAUTHORIZED", bad, err)
				}
			}
			keys, err := svc.FindAPIKeys(ctx)
			if err != nil || len(keys) != 1 {
				t.Fatalf("keys=%v err=%v", keys, err)
			}
			if err := svc.DeleteAPIKey(ctx, k.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Authenticate(ctx, plain); wxnotify.ErrorCode(err) != wxnotify.EUNAUTHORIZED {
				t.Fatalf("deleted key still authenticates: %v", err)
			}
			if err := svc.DeleteAPIKey(ctx, k.ID); wxnotify.ErrorCode(err) != wxnotify.ENOTFOUND {
				t.Fatalf("delete twice: %v", err)
			}
			if _, err := svc.CreateAPIKey(ctx, &wxnotify.APIKey{Name: "x"}); wxnotify.ErrorField(err) != "apps" {
				t.Fatalf("key without apps: %v", err)
			}
		})
	}
}
