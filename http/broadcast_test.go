package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/mock"
)

// openServer runs a Server with key "key-a" for app A only, configured by
// configure before it opens.
func openServer(t *testing.T, configure func(*wxhttp.Server)) *wxhttp.Server {
	t.Helper()
	s := wxhttp.NewServer()
	s.Addr = "127.0.0.1:0"
	s.APIKeyService = &mock.APIKeyService{AuthenticateFunc: func(_ context.Context, k string) (*wxnotify.APIKey, error) {
		if k == "key-a" {
			return &wxnotify.APIKey{ID: "a", Name: "svc", Apps: []string{appA}}, nil
		}
		return nil, wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "invalid API key")
	}}
	configure(s)
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func doType(t *testing.T, method, url, key, contentType string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// broadcastRecorder is a BroadcastService that checks access and reads
// every recipient, as the real one does, and keeps what it read.
type broadcastRecorder struct {
	mu         sync.Mutex
	broadcast  *wxnotify.Broadcast
	recipients []wxnotify.BroadcastRecipient
}

func (b *broadcastRecorder) service() *mock.BroadcastService {
	return &mock.BroadcastService{
		CreateBroadcastFunc: func(ctx context.Context, br *wxnotify.Broadcast, rs iter.Seq2[wxnotify.BroadcastRecipient, error]) error {
			if err := wxnotify.CheckAppAccess(ctx, br.AppID); err != nil {
				return err
			}
			br.ID, br.State = 7, wxnotify.BroadcastAccepting
			b.mu.Lock()
			defer b.mu.Unlock()
			b.broadcast, b.recipients = br, nil
			for r, err := range rs {
				if err != nil {
					br.State = wxnotify.BroadcastAborted
					return err
				}
				if r.OpenID == "" {
					br.State = wxnotify.BroadcastAborted
					return wxnotify.FieldErrorf(fmt.Sprintf("recipients[%d].openid", len(b.recipients)), "openid required")
				}
				b.recipients = append(b.recipients, r)
				br.Accepted++
			}
			br.State = wxnotify.BroadcastAccepted
			return nil
		},
		FindBroadcastByIDFunc: func(ctx context.Context, id int64) (*wxnotify.Broadcast, error) {
			if err := wxnotify.CheckAppAccess(ctx, appA); err != nil || id != 7 {
				return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "broadcast %d not found", id)
			}
			return &wxnotify.Broadcast{ID: 7, AppID: appA, Kind: wxnotify.MessageSubscribe, TemplateID: "TPL", Data: map[string]string{"thing1": "x"}, State: wxnotify.BroadcastAccepted, Accepted: 2,
				Counts: map[wxnotify.MessageState]int64{"queued": 1, "delivered": 1}, Total: 2, Pending: 1}, nil
		},
	}
}

func TestBroadcastCreate(t *testing.T) {
	t.Parallel()
	rec := &broadcastRecorder{}
	s := openServer(t, func(s *wxhttp.Server) { s.BroadcastService = rec.service() })
	url := s.URL() + "/v1/broadcasts"
	header := `"appid":"` + appA + `","template_id":"T","data":{"thing1":"书","time2":{"value":"2026-01-01 10:00"}}`

	t.Run("JSON", func(t *testing.T) {
		body := `{` + header + `,"recipients":["o1",{"openid":"o2","data":{"thing1":"笔"}}, "o3"]}`
		resp, out := doType(t, "POST", url, "key-a", "application/json", strings.NewReader(body))
		if resp.StatusCode != 202 {
			t.Fatalf("status=%d body=%s", resp.StatusCode, out)
		}
		var got wxnotify.BroadcastResponse
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if got.ID != 7 || got.Accepted != 3 || got.State != wxnotify.BroadcastAccepted {
			t.Fatalf("response=%+v", got)
		}
		if loc := resp.Header.Get("Location"); loc != "/v1/broadcasts/7" {
			t.Fatalf("Location=%q", loc)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if rec.broadcast.Data["time2"] != "2026-01-01 10:00" || rec.broadcast.TemplateID != "T" {
			t.Fatalf("broadcast=%+v", rec.broadcast)
		}
		if len(rec.recipients) != 3 || rec.recipients[1].OpenID != "o2" || rec.recipients[1].Data["thing1"] != "笔" || rec.recipients[2].OpenID != "o3" {
			t.Fatalf("recipients=%+v", rec.recipients)
		}
	})
	t.Run("NDJSON", func(t *testing.T) {
		body := "{" + header + "}\n\"o1\"\n{\"openid\":\"o2\"}\n\n"
		resp, out := doType(t, "POST", url, "key-a", "application/x-ndjson", strings.NewReader(body))
		if resp.StatusCode != 202 || !strings.Contains(out, `"accepted":2`) {
			t.Fatalf("status=%d body=%s", resp.StatusCode, out)
		}
	})
	t.Run("Streamed", func(t *testing.T) {
		// The service sees recipients while the client still writes them.
		pr, pw := io.Pipe()
		go func() {
			fmt.Fprintf(pw, `{%s,"recipients":[`, header)
			for i := range 20000 {
				if i > 0 {
					io.WriteString(pw, ",")
				}
				fmt.Fprintf(pw, `"o%d"`, i)
			}
			io.WriteString(pw, "]}")
			pw.Close()
		}()
		resp, out := doType(t, "POST", url, "key-a", "application/json", pr)
		if resp.StatusCode != 202 || !strings.Contains(out, `"accepted":20000`) {
			t.Fatalf("status=%d body=%s", resp.StatusCode, out)
		}
	})

	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		field                   string
	}{
		{"BadRecipientMidStream", "application/json", `{` + header + `,"recipients":["o1","",  "o3"]}`, 400, "recipients[1].openid"},
		{"RecipientWrongType", "application/json", `{` + header + `,"recipients":["o1",42]}`, 400, "recipients[1]"},
		{"RecipientUnknownField", "application/json", `{` + header + `,"recipients":[{"openid":"o","x":1}]}`, 400, "recipients[0].x"},
		{"RecipientDataType", "application/json", `{` + header + `,"recipients":[{"openid":"o","data":{"thing1":true}}]}`, 400, "recipients[0].data.thing1"},
		{"MalformedMidStream", "application/json", `{` + header + `,"recipients":["o1",}`, 400, "recipients[1]"},
		{"Truncated", "application/json", `{` + header + `,"recipients":["o1"`, 400, "recipients"},
		{"FieldAfterRecipients", "application/json", `{` + header + `,"recipients":["o1"],"page":"x"}`, 400, "recipients"},
		{"NoRecipients", "application/json", `{` + header + `}`, 400, "recipients"},
		{"RecipientsNotArray", "application/json", `{` + header + `,"recipients":"o1"}`, 400, "recipients"},
		{"UnknownHeaderField", "application/json", `{` + header + `,"color":"red","recipients":["o1"]}`, 400, "color"},
		{"BadTTL", "application/json", `{` + header + `,"ttl":"forever","recipients":["o1"]}`, 400, "ttl"},
		{"NDJSONBadLine", "application/x-ndjson", "{" + header + "}\n\"o1\"\n{\"openid\":\"\"}\n", 400, "recipients[1].openid"},
		{"NDJSONRecipientsInHeader", "application/x-ndjson", "{" + header + ",\"recipients\":[]}\n", 400, "recipients"},
		{"OtherApp", "application/json", `{"appid":"` + appB + `","template_id":"T","data":{"thing1":"x"},"recipients":["o1"]}`, 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := doType(t, "POST", url, "key-a", tc.contentType, strings.NewReader(tc.body))
			wantError(t, resp, out, tc.status, tc.field)
		})
	}
	t.Run("AbortedHasLocation", func(t *testing.T) {
		resp, out := doType(t, "POST", url, "key-a", "application/json", strings.NewReader(`{`+header+`,"recipients":["o1",""]}`))
		wantError(t, resp, out, 400, "recipients[1].openid")
		if loc := resp.Header.Get("Location"); loc != "/v1/broadcasts/7" {
			t.Fatalf("Location=%q, want the aborted broadcast", loc)
		}
	})
	t.Run("NoKey", func(t *testing.T) {
		resp, out := doType(t, "POST", url, "", "application/json", strings.NewReader(`{}`))
		wantError(t, resp, out, 401, "")
	})
}

func TestBroadcastGet(t *testing.T) {
	t.Parallel()
	rec := &broadcastRecorder{}
	s := openServer(t, func(s *wxhttp.Server) { s.BroadcastService = rec.service() })
	resp, out := do(t, "GET", s.URL()+"/v1/broadcasts/7", "key-a", "")
	if resp.StatusCode != 200 {
		t.Fatalf("status=%d body=%s", resp.StatusCode, out)
	}
	var b wxnotify.Broadcast
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatal(err)
	}
	if b.Total != 2 || b.Pending != 1 || b.Counts["delivered"] != 1 {
		t.Fatalf("broadcast=%+v", b)
	}
	resp, out = do(t, "GET", s.URL()+"/v1/broadcasts/8", "key-a", "")
	wantError(t, resp, out, 404, "")
	resp, out = do(t, "GET", s.URL()+"/v1/broadcasts/x", "key-a", "")
	wantError(t, resp, out, 400, "id")
}

func TestBroadcastNotConfigured(t *testing.T) {
	t.Parallel()
	s := openServer(t, func(*wxhttp.Server) {})
	for _, path := range []string{"/v1/broadcasts", "/v1/schedules", "/v1/webhooks"} {
		resp, out := do(t, "POST", s.URL()+path, "key-a", "{}")
		wantError(t, resp, out, 503, "")
	}
}

func TestBroadcastList(t *testing.T) {
	t.Parallel()
	var got wxnotify.BroadcastFilter
	svc := &mock.BroadcastService{FindBroadcastsFunc: func(ctx context.Context, f wxnotify.BroadcastFilter) ([]*wxnotify.Broadcast, error) {
		got = f
		return []*wxnotify.Broadcast{{ID: 8, AppID: appA, Kind: wxnotify.MessageSubscribe, TemplateID: "TPL", Data: map[string]string{"thing1": "x"},
			State: wxnotify.BroadcastFinished, Accepted: 2, Total: 2,
			Counts: map[wxnotify.MessageState]int64{wxnotify.MessageDelivered: 1, wxnotify.MessageNoCredit: 1}}}, nil
	}}
	s := openServer(t, func(s *wxhttp.Server) { s.BroadcastService = svc })
	resp, out := do(t, "GET", s.URL()+"/v1/broadcasts?appid="+appA+"&state=finished&before=9&limit=1", "key-a", "")
	var list wxnotify.BroadcastList
	if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &list) != nil || len(list.Broadcasts) != 1 || list.NextBefore != 8 ||
		list.Broadcasts[0].Counts[wxnotify.MessageNoCredit] != 1 {
		t.Fatalf("status=%d body=%s", resp.StatusCode, out)
	}
	if got.AppID == nil || *got.AppID != appA || got.State == nil || *got.State != wxnotify.BroadcastFinished || got.BeforeID != 9 || got.Limit != 1 {
		t.Fatalf("filter=%+v", got)
	}
	for _, q := range []string{"state=done", "limit=0", "limit=1001", "before=x"} {
		resp, out := do(t, "GET", s.URL()+"/v1/broadcasts?"+q, "key-a", "")
		wantError(t, resp, out, 400, strings.SplitN(q, "=", 2)[0])
	}
}

// TestServer_OnRequest: each answered request is reported by its route
// pattern, never its path.
func TestServer_OnRequest(t *testing.T) {
	t.Parallel()
	type seen struct {
		route  string
		status int
	}
	ch := make(chan seen, 4)
	s := openServer(t, func(s *wxhttp.Server) {
		s.OnRequest = func(route string, status int, _ time.Duration) {
			if route != "GET /openapi.json" { // the contract check's
				ch <- seen{route, status}
			}
		}
	})
	for _, tc := range []struct {
		path string
		want seen
	}{
		{"/v1/broadcasts/123", seen{"GET /v1/broadcasts/{id}", 503}},
		{"/nope/456", seen{"/", 404}},
	} {
		resp, _ := do(t, "GET", s.URL()+tc.path, "key-a", "")
		if got := <-ch; got != tc.want || resp.StatusCode != tc.want.status {
			t.Errorf("GET %s: reported %+v, want %+v", tc.path, got, tc.want)
		}
	}
}
