package http_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/mock"
)

func TestWebhookRoutes(t *testing.T) {
	t.Parallel()
	var created *wxnotify.Webhook
	svc := &mock.WebhookService{
		CreateWebhookFunc: func(ctx context.Context, w *wxnotify.Webhook) error {
			if err := wxnotify.CheckAppAccess(ctx, w.AppID); err != nil {
				return err
			}
			if err := w.Validate(); err != nil {
				return err
			}
			if w.Secret == "" {
				w.Secret = "whsec_generated_generated"
			}
			w.ID = 3
			created = w
			return nil
		},
		FindWebhooksFunc: func(ctx context.Context) ([]*wxnotify.Webhook, error) {
			return []*wxnotify.Webhook{{ID: 3, AppID: appA, URL: "https://example.com/h", Secret: "must-not-appear"}}, nil
		},
		DeleteWebhookFunc: func(ctx context.Context, id int64) error {
			if id != 3 {
				return wxnotify.Errorf(wxnotify.ENOTFOUND, "webhook %d not found", id)
			}
			return nil
		},
	}
	s := openServer(t, func(s *wxhttp.Server) { s.WebhookService = svc })
	url := s.URL() + "/v1/webhooks"

	t.Run("CreateGeneratesSecret", func(t *testing.T) {
		resp, out := do(t, "POST", url, "key-a", `{"appid":"`+appA+`","url":"https://example.com/h"}`)
		if resp.StatusCode != 201 {
			t.Fatalf("status=%d body=%s", resp.StatusCode, out)
		}
		var got wxnotify.WebhookCreated
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if got.ID != 3 || got.Secret != "whsec_generated_generated" || got.Secret != created.Secret.Reveal() {
			t.Fatalf("created=%+v", got)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatal("secret answer may be cached")
		}
	})
	for _, tc := range []struct {
		name, body string
		status     int
		field      string
	}{
		{"NoURL", `{"appid":"` + appA + `"}`, 400, "url"},
		{"RelativeURL", `{"appid":"` + appA + `","url":"/hook"}`, 400, "url"},
		{"FTP", `{"appid":"` + appA + `","url":"ftp://example.com/"}`, 400, "url"},
		{"Credentials", `{"appid":"` + appA + `","url":"https://u:p@example.com/"}`, 400, "url"},
		{"ShortSecret", `{"appid":"` + appA + `","url":"https://example.com/","secret":"short"}`, 400, "secret"},
		{"OtherApp", `{"appid":"` + appB + `","url":"https://example.com/"}`, 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := do(t, "POST", url, "key-a", tc.body)
			wantError(t, resp, out, tc.status, tc.field)
		})
	}
	t.Run("ListHidesSecrets", func(t *testing.T) {
		resp, out := do(t, "GET", url, "key-a", "")
		if resp.StatusCode != 200 || !strings.Contains(out, `"webhooks":[{"id":3`) || strings.Contains(out, "must-not-appear") {
			t.Fatalf("status=%d body=%s", resp.StatusCode, out)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		if resp, out := do(t, "DELETE", url+"/3", "key-a", ""); resp.StatusCode != 204 {
			t.Fatalf("status=%d body=%s", resp.StatusCode, out)
		}
		resp, out := do(t, "DELETE", url+"/4", "key-a", "")
		wantError(t, resp, out, 404, "")
	})
}

func TestWebhookDeliveries(t *testing.T) {
	t.Parallel()
	var replayed []int64
	svc := &mock.WebhookService{
		FindWebhookDeliveriesFunc: func(ctx context.Context, id int64, f wxnotify.WebhookDeliveryFilter) ([]*wxnotify.WebhookDelivery, error) {
			if id != 3 {
				return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "webhook %d not found", id)
			}
			if f.State != "dead" || f.Limit != 1 {
				t.Errorf("filter=%+v, want state dead, limit 1", f)
			}
			return []*wxnotify.WebhookDelivery{{ID: 9, WebhookID: 3, Event: "message.failed", MessageID: 7, State: "dead", Attempts: 8,
				LastError: "POST https://example.com/h: HTTP 500", CreatedAt: time.Unix(1_767_225_600, 0).UTC(),
				Payload: json.RawMessage(`{"event":"message.failed","message_id":7,"appid":"` + appA + `","openid":"oU","state":"failed","errcode":43101,"at":"2026-01-01T00:00:00Z"}`)}}, nil
		},
		ReplayWebhookDeliveriesFunc: func(ctx context.Context, id int64, ids []int64) (int64, error) {
			if id != 3 {
				return 0, wxnotify.Errorf(wxnotify.ENOTFOUND, "webhook %d not found", id)
			}
			replayed = ids
			return int64(max(len(ids), 2)), nil
		},
	}
	s := openServer(t, func(s *wxhttp.Server) { s.WebhookService = svc })
	url := s.URL() + "/v1/webhooks/3/deliveries"

	t.Run("ListDead", func(t *testing.T) {
		resp, out := do(t, "GET", url+"?state=dead&limit=1", "key-a", "")
		var got wxnotify.WebhookDeliveryList
		if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &got) != nil || len(got.Deliveries) != 1 || got.NextBefore != 9 ||
			got.Deliveries[0].Payload == nil {
			t.Fatalf("status=%d body=%s", resp.StatusCode, out)
		}
	})
	t.Run("ErrBadState", func(t *testing.T) {
		resp, out := do(t, "GET", url+"?state=bogus", "key-a", "")
		wantError(t, resp, out, 400, "state")
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		resp, out := do(t, "GET", s.URL()+"/v1/webhooks/4/deliveries", "key-a", "")
		wantError(t, resp, out, 404, "")
	})
	t.Run("ReplayAll", func(t *testing.T) {
		resp, out := do(t, "POST", url+"/replay", "key-a", "")
		if resp.StatusCode != 200 || out != `{"replayed":2}`+"\n" || replayed != nil {
			t.Fatalf("status=%d body=%q ids=%v", resp.StatusCode, out, replayed)
		}
	})
	t.Run("ReplayIDs", func(t *testing.T) {
		resp, out := do(t, "POST", url+"/replay", "key-a", `{"ids":[9,10,11]}`)
		if resp.StatusCode != 200 || out != `{"replayed":3}`+"\n" || len(replayed) != 3 {
			t.Fatalf("status=%d body=%q ids=%v", resp.StatusCode, out, replayed)
		}
	})
	t.Run("ErrReplayUnknownField", func(t *testing.T) {
		resp, out := do(t, "POST", url+"/replay", "key-a", `{"id":9}`)
		wantError(t, resp, out, 400, "id")
	})
}
