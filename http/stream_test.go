package http_test

// Bounded memory on every input path: a body with one endless line or value
// is refused after the cap is passed, naming where, and the server reads
// only about the cap of it. The requests go straight to Server.ServeHTTP,
// so the test's body reader sees exactly what the server pulled.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/mock"
	"github.com/wxnotify/wxnotify/wechat"
	"github.com/wxnotify/wxnotify/wechatsim"
)

// endlessBody is prefix followed by an endless run of 'a' (a line or a JSON
// string that never ends, up to 100 MB). It fails the test if the server
// reads more than limit bytes of it.
type endlessBody struct {
	t      *testing.T
	prefix string
	limit  int64
	read   int64
}

func (b *endlessBody) Read(p []byte) (int, error) {
	const total = 100 << 20
	if b.read >= total {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && b.read < total {
		if b.read < int64(len(b.prefix)) {
			p[n] = b.prefix[b.read]
		} else {
			p[n] = 'a'
		}
		n++
		b.read++
	}
	if b.read > b.limit {
		b.t.Errorf("the server read %d bytes of an over-long value, more than %d", b.read, b.limit)
		return n, fmt.Errorf("read past the cap")
	}
	return n, nil
}

func (b *endlessBody) Close() error { return nil }

// slack is what the server may read past a cap: its read buffers.
const slack = 64 << 10

type callbackConfigs struct{}

func (callbackConfigs) CallbackConfig(_ context.Context, appID string) (*wxnotify.CallbackConfig, error) {
	return &wxnotify.CallbackConfig{AppID: appID, Token: "pushToken", Mode: wxnotify.CallbackPlain}, nil
}

func TestBoundedInput(t *testing.T) {
	t.Parallel()
	s := wxhttp.NewServer()
	s.APIKeyService = &mock.APIKeyService{AuthenticateFunc: func(context.Context, string) (*wxnotify.APIKey, error) {
		return &wxnotify.APIKey{ID: "a", Name: "svc", Apps: []string{appA}}, nil
	}}
	// Like the real service: read recipients until the first error.
	s.BroadcastService = &mock.BroadcastService{CreateBroadcastFunc: func(_ context.Context, b *wxnotify.Broadcast, rs iter.Seq2[wxnotify.BroadcastRecipient, error]) error {
		b.ID = 1
		for _, err := range rs {
			if err != nil {
				return err
			}
			b.Accepted++
		}
		return nil
	}}
	s.SessionService = &mock.SessionService{}
	s.CallbackConfigs = callbackConfigs{}

	header := fmt.Sprintf(`{"appid":%q,"template_id":"T","data":{"thing1":"x"}`, appA)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	q := url.Values{"timestamp": {ts}, "nonce": {"n1"}, "signature": {wechatsim.Signature("pushToken", ts, "n1")}}
	line := int64(wxnotify.MaxBroadcastLineBytes)

	for _, tc := range []struct {
		name, path, contentType, prefix string
		cap                             int64
		field, says                     string
	}{
		{"NDJSONRecipient", "/v1/broadcasts", "application/x-ndjson", header + "}\n\"o1\"\n\n\"o2", line, "recipients[1]", "line 4 is longer than"},
		{"NDJSONHeader", "/v1/broadcasts", "application/x-ndjson", `{"appid":"`, line, "", "line 1 is longer than"},
		{"JSONRecipient", "/v1/broadcasts", "application/json", header + `,"recipients":["o1",{"openid":"`, line, "recipients[1]", "longer than"},
		{"JSONHeaderField", "/v1/broadcasts", "application/json", `{"page":"`, line, "page", "longer than"},
		{"Message", "/v1/messages", "application/json", `{"appid":"`, wxhttp.DefaultMaxBodyBytes, "", "larger than"},
		{"MiniProgram", "/mp/v1/apps/" + appA + "/login", "application/json", `{"code":"`, wxhttp.MiniProgramMaxBodyBytes, "", "larger than"},
		{"Callback", "/wechat/callback/" + appA + "?" + q.Encode(), "text/xml", "<xml><ToUserName>", wechat.MaxPushBodySize, "", "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := &endlessBody{t: t, prefix: tc.prefix, limit: int64(len(tc.prefix)) + tc.cap + slack}
			req := httptest.NewRequest("POST", tc.path, body)
			req.Header.Set("Authorization", "Bearer key-a")
			req.Header.Set("Content-Type", tc.contentType)
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			var e wxnotify.ErrorResponse
			if rec.Code != http.StatusBadRequest || json.Unmarshal(rec.Body.Bytes(), &e) != nil {
				t.Fatalf("status %d, body %s; want 400", rec.Code, rec.Body)
			}
			if e.Error.Field != tc.field || !strings.Contains(e.Error.Message, tc.says) {
				t.Fatalf("error field %q, message %q; want field %q and %q", e.Error.Field, e.Error.Message, tc.field, tc.says)
			}
			t.Logf("read %d bytes of the body: %s", body.read, e.Error.Message)
		})
	}
}
