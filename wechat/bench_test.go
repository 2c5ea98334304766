package wechat_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wxnotify/wxnotify/wechat"
)

// BenchmarkSendSubscribe measures the hot path against a local server that
// answers every send with one fixed body. Most of the time and allocations
// are net/http's (both ends run in this process); allocs/op is the number to
// watch for the client's own share.
func BenchmarkSendSubscribe(b *testing.B) {
	answer := []byte(`{"errcode":0,"errmsg":"ok","msgid":2367374098364457001}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Write(answer)
	}))
	defer srv.Close()
	c := wechat.New(wechat.Options{BaseURL: srv.URL})
	m := benchMessage()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id, err := c.SendSubscribe(ctx, testToken, m)
			if err != nil || id != "2367374098364457001" {
				b.Errorf("SendSubscribe = %q, %v", id, err)
				return
			}
		}
	})
}

// cannedTransport answers every request with one fixed body, without a
// network, so that a benchmark measures the client's own work.
type cannedTransport struct{ body []byte }

func (t cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{}, Request: r,
		Body: io.NopCloser(bytes.NewReader(t.body)), ContentLength: int64(len(t.body)),
	}, nil
}

// BenchmarkSendSubscribeNoNetwork is BenchmarkSendSubscribe with the network
// replaced by cannedTransport: encoding, request building, decoding.
func BenchmarkSendSubscribeNoNetwork(b *testing.B) {
	hc := &http.Client{Transport: cannedTransport{[]byte(`{"errcode":0,"errmsg":"ok","msgid":2367374098364457001}`)}}
	c := wechat.New(wechat.Options{BaseURL: "https://api.weixin.qq.com", HTTPClient: hc, Timeout: -1})
	m := benchMessage()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.SendSubscribe(ctx, testToken, m); err != nil {
			b.Fatal(err)
		}
	}
}

func benchMessage() *wechat.SubscribeMessage {
	return &wechat.SubscribeMessage{
		ToUser:     "oKXUCj1BVfk4lD0Gkpk9IGhS0bq8",
		TemplateID: "9Aw5ZV1j9xdWTFEkqCpZ7jWySL7aGN6rQom4gXINfJs",
		Page:       "pages/order/detail?id=20231225001",
		Data: wechat.Data{
			"character_string1": "2022120853531009",
			"time2":             "2022-12-08 16:13:16",
			"amount4":           "¥0.01",
			"thing3":            "特价清仓甩卖-荣耀80新品5G手机",
		},
	}
}
