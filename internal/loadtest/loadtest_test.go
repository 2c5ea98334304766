package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/wechatsim"
)

// TestRun measures a tiny load against a minimal system: a handler that
// answers 202 and sends each message to the simulator itself, except every
// tenth, which it reports as ended. It checks that every figure is filled
// and the counts add up; it asserts nothing about speed.
func TestRun(t *testing.T) {
	t.Parallel()
	c := Config{N: 200, Users: 20, Concurrency: 8, LimitN: 200, Timeout: 30 * time.Second, Quiet: true}
	b, err := Start(c, "test", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.MeasureLimit(t.Context(), 8); err != nil {
		t.Fatal(err)
	}
	url := startSystem(t, b, func(seq int) bool { return seq < c.N && seq%10 == 3 })

	res, err := b.Run(t.Context(), Target{URLs: []string{url}, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 200 || res.Delivered != 180 || res.Failed != 20 || res.Rejected != 0 || res.TimedOut {
		t.Fatalf("accepted=%d delivered=%d failed=%d rejected=%d timed out %v (%s), want 200, 180, 20, 0, false",
			res.Accepted, res.Delivered, res.Failed, res.Rejected, res.TimedOut, res.FirstErr)
	}
	if res.FirstErr != "dropped" {
		t.Errorf("first error %q, want the first Ended reason, dropped", res.FirstErr)
	}
	if res.AcceptedPerSec <= 0 || res.DeliveredPerSec <= 0 || res.LimitBefore <= 0 || res.LimitAfter <= 0 || res.Ratio <= 0 ||
		res.RatioBeforeOnly <= 0 || res.LimitClients != 64 {
		t.Fatalf("figures missing: %+v", res)
	}
	if res.P50MS > res.P99MS || res.P99MS > res.MaxMS || res.IdleP50MS > res.IdleP99MS || res.IdleP99MS == 0 {
		t.Fatalf("percentiles out of order: %+v", res)
	}
	if svg := b.ChartSVG("title <&>"); !bytes.HasPrefix(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("title &lt;&amp;&gt;")) {
		t.Fatalf("chart: %.300s", svg)
	}
	var text bytes.Buffer
	res.WriteText(&text)
	if !strings.Contains(text.String(), "  delivered           180 (20 ended otherwise)") ||
		!strings.Contains(text.String(), "  first error         dropped\n") {
		t.Fatalf("text:\n%s", text.String())
	}
}

// TestRun_Rejected counts requests the system refuses and reports the
// first refusal.
func TestRun_Rejected(t *testing.T) {
	t.Parallel()
	c := Config{N: 20, Users: 5, Concurrency: 2, LimitN: 50, Timeout: 30 * time.Second, Quiet: true}
	b, err := Start(c, "test", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.MeasureLimit(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	url := startSystem(t, b, func(int) bool { return false })
	res, err := b.Run(t.Context(), Target{URLs: []string{url}, APIKey: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 0 || res.Rejected != 20 || !strings.HasPrefix(res.FirstErr, "POST /v1/messages: 401") {
		t.Fatalf("accepted=%d rejected=%d first error %q, want 0, 20, a 401", res.Accepted, res.Rejected, res.FirstErr)
	}
}

// startSystem serves POST /v1/messages for key "k": it answers 202 and
// sends the message to the simulator, unless drop(seq), which it reports
// to b.Ended.
func startSystem(t *testing.T, b *Bench, drop func(seq int) bool) string {
	t.Helper()
	ctx := context.WithoutCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", b.SimURL()+wechatsim.PathToken+"?grant_type=client_credential&appid="+AppID+"&secret="+AppSecret, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	sendURL := b.SimURL() + wechatsim.PathSubscribeSend + "?access_token=" + tok.AccessToken

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "invalid API key", http.StatusUnauthorized)
			return
		}
		var m struct {
			AppID      string            `json:"appid"`
			OpenID     string            `json:"openid"`
			TemplateID string            `json:"template_id"`
			Data       map[string]string `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil || m.AppID != AppID || m.TemplateID != b.TemplateID() {
			http.Error(w, "bad message", http.StatusBadRequest)
			return
		}
		seq, _ := strconv.Atoi(strings.TrimPrefix(m.Data["thing1"], "m"))
		w.WriteHeader(http.StatusAccepted)
		if drop(seq) {
			b.Ended("dropped")
			return
		}
		body := fmt.Sprintf(`{"touser":%q,"template_id":%q,"data":{"thing1":{"value":%q},"time2":{"value":%q}}}`,
			m.OpenID, m.TemplateID, m.Data["thing1"], m.Data["time2"])
		go func() {
			resp, err := http.Post(sendURL, "application/json", strings.NewReader(body))
			if err != nil {
				b.SetErr(err.Error())
				return
			}
			defer resp.Body.Close()
			if p, _ := io.ReadAll(resp.Body); !bytes.HasPrefix(p, []byte(`{"errcode":0,`)) {
				b.SetErr("simulator answered " + string(p))
			}
		}()
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func TestPct(t *testing.T) {
	t.Parallel()
	ms := func(v ...int) []time.Duration {
		var ds []time.Duration
		for _, x := range v {
			ds = append(ds, time.Duration(x)*time.Millisecond)
		}
		return ds
	}
	for _, tc := range []struct {
		ds   []time.Duration
		p    float64
		want float64
	}{
		{nil, 50, 0},
		{ms(7), 99, 7},
		{ms(4, 1, 3, 2), 50, 2}, // nearest rank: ceil(0.5*4) = 2nd
		{ms(4, 1, 3, 2), 51, 3},
		{ms(4, 1, 3, 2), 100, 4},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9},
	} {
		if got := pct(tc.ds, tc.p); got != tc.want {
			t.Errorf("pct(%v, %g) = %g, want %g", tc.ds, tc.p, got, tc.want)
		}
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v    []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := Median(tc.v); got != tc.want {
			t.Errorf("Median(%v) = %g, want %g", tc.v, got, tc.want)
		}
	}
}

// TestWriteVersus pins bench/peer's -compare table.
func TestWriteVersus(t *testing.T) {
	t.Parallel()
	wx := []*Result{{DeliveredPerSec: 600, Ratio: 0.5}, {DeliveredPerSec: 200, Ratio: 0.1}}
	peer := []*Result{{DeliveredPerSec: 100, Ratio: 0.2}, {DeliveredPerSec: 100, Ratio: 0.1}}
	var out bytes.Buffer
	WriteVersus(&out, wx, "peer", peer)
	lines := strings.Split(out.String(), "\n")
	for i, want := range map[int]string{
		0:  "                     wxnotify         peer    wx÷peer",
		1:  "delivered/s            400.00       100.00      4.00×",
		3:  "p50 ms                   0.00         0.00          -",
		10: "ratio to limit           0.30         0.15      2.00×",
		11: "delivered/s wx÷peer per run: 6.00× 2.00×",
	} {
		if lines[i] != want {
			t.Errorf("line %d = %q, want %q", i, lines[i], want)
		}
	}
	out.Reset()
	WriteVersus(&out, nil, "peer", peer)
	if !strings.Contains(out.String(), "delivered/s                 -       100.00\n") || strings.Contains(out.String(), "per run") {
		t.Errorf("peer alone:\n%s", out.String())
	}
}
