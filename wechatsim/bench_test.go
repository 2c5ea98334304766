package wechatsim_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/wxnotify/wxnotify/wechatsim"
)

const benchUsers = 64

// benchSim returns a simulator whose benchUsers users can receive any number of messages, a
// token, and one send body per user shaped like /work/shared/reference/httplimit's.
func benchSim(b *testing.B) (*wechatsim.Server, string, [][]byte) {
	b.Helper()
	sim := wechatsim.New(wechatsim.Options{InboxLimit: 16})
	sim.AddApp(wechatsim.App{AppID: appID, Secret: secret})
	tpl := sim.AddTemplateDirect(appID, "订单发货通知",
		wechatsim.Keyword{Key: "thing1", Name: "商品名称"}, wechatsim.Keyword{Key: "time2", Name: "发货时间"})
	bodies := make([][]byte, benchUsers)
	for i := range bodies {
		openid := "oUSER" + strconv.Itoa(100000+i)
		sim.GrantSubscribe(appID, openid, tpl, 1<<50)
		bodies[i] = []byte(`{"touser":"` + openid + `","template_id":"` + tpl + `","page":"pages/index","data":{"thing1":{"value":"Order shipped"},"time2":{"value":"2026-11-25 10:00"}}}`)
	}
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, httptest.NewRequest("GET", tokenURL(appID, secret), nil))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := jsonUnmarshal(rec.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
		b.Fatalf("token: %v %s", err, rec.Body)
	}
	return sim, tok.AccessToken, bodies
}

// BenchmarkSubscribeSend measures the handler alone, without sockets.
func BenchmarkSubscribeSend(b *testing.B) {
	sim, token, bodies := benchSim(b)
	target := "/cgi-bin/message/subscribe/send?access_token=" + token
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		body := bodies[int(next.Add(1))%benchUsers]
		for pb.Next() {
			req := httptest.NewRequest("POST", target, bytes.NewReader(body))
			rec := httptest.NewRecorder()
			sim.ServeHTTP(rec, req)
			if rec.Body.Bytes()[11] != '0' { // {"errcode":0
				b.Fatalf("send: %s", rec.Body)
			}
		}
	})
	if sim.DeliveredCount(appID) != int64(b.N) {
		b.Fatalf("delivered %d of %d", sim.DeliveredCount(appID), b.N)
	}
}

// loopback drives h over loopback HTTP with 64 concurrent clients, like httplimit, and
// reports req/s.
func loopback(b *testing.B, h http.Handler, target string, bodies [][]byte) {
	const clients = 64
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	url := srv.URL + target
	b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		body := bodies[int(next.Add(1))%len(bodies)]
		for pb.Next() {
			resp, err := cl.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkLoopbackSend sends valid subscribe messages to the simulator over loopback HTTP
// with 64 concurrent clients. Compare with BenchmarkLoopbackBare (same harness, minimal
// handler) and with /work/shared/reference/httplimit.
func BenchmarkLoopbackSend(b *testing.B) {
	sim, token, bodies := benchSim(b)
	loopback(b, sim, "/cgi-bin/message/subscribe/send?access_token="+token, bodies)
	if sim.DeliveredCount(appID) < int64(b.N) {
		b.Fatalf("delivered %d of %d", sim.DeliveredCount(appID), b.N)
	}
}

// BenchmarkLoopbackBare is httplimit's minimal JSON endpoint in the same harness.
func BenchmarkLoopbackBare(b *testing.B) {
	_, _, bodies := benchSim(b)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"errcode":0,"errmsg":"ok","msgid":1}`))
	})
	loopback(b, h, "/cgi-bin/message/subscribe/send?access_token=x", bodies)
}
