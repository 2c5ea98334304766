package http_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/mock"
)

func TestCreditStats(t *testing.T) {
	t.Parallel()
	var got wxnotify.CreditFilter
	s := openServer(t, func(s *wxhttp.Server) {
		s.CreditService = &mock.CreditService{CreditStocksFunc: func(_ context.Context, f wxnotify.CreditFilter) ([]*wxnotify.CreditStock, error) {
			got = f
			return []*wxnotify.CreditStock{{AppID: *f.AppID, Kind: wxnotify.CreditSubscribe, TemplateID: "T1", Credits: 3, Uses: 3}}, nil
		}}
	})
	t.Run("OK", func(t *testing.T) {
		resp, body := doType(t, "GET", s.URL()+"/v1/apps/"+appA+"/credits/stats?openid=o1&template_id=T1&kind=subscribe&expiring_within=24h", "key-a", "", nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `"stocks":[{"appid":"`+appA+`"`) || !strings.Contains(body, `"credits":3`) {
			t.Fatalf("status %d body %s", resp.StatusCode, body)
		}
		if *got.AppID != appA || *got.OpenID != "o1" || *got.TemplateID != "T1" || *got.Kind != wxnotify.CreditSubscribe || *got.ExpiringWith != 24*time.Hour {
			t.Fatalf("filter %+v", got)
		}
	})
	for _, tc := range []struct {
		name, path, key string
		status          int
	}{
		{"ErrOtherApp", "/v1/apps/" + appB + "/credits/stats", "key-a", http.StatusForbidden},
		{"ErrNoKey", "/v1/apps/" + appA + "/credits/stats", "", http.StatusUnauthorized},
		{"ErrExpiringWithin", "/v1/apps/" + appA + "/credits/stats?expiring_within=soon", "key-a", http.StatusBadRequest},
		{"ErrKind", "/v1/apps/" + appA + "/credits/stats?kind=gold", "key-a", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := doType(t, "GET", s.URL()+tc.path, tc.key, "", nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
		})
	}
}
