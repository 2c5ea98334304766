package wechatsim_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/wechatsim"
)

func TestFaults(t *testing.T) {
	t.Parallel()

	t.Run("ErrCodeCount", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.sim.GrantSubscribe(appID, "oU", tb.tpl, 10)
		tb.sim.InjectFault(wechatsim.Fault{Path: wechatsim.PathSubscribeSend, Count: 2, ErrCode: -1})
		body := sendBody("oU", tb.tpl, "thing1", "x", "time2", "15:01")
		// Other paths are unaffected.
		if c := works(t, tb.sim, tb.token); c != 0 {
			t.Fatalf("other path: %d", c)
		}
		for i, want := range []int{-1, -1, 0} {
			if c, msg := errcode(t, tb.sim, "POST", sendPath(tb.token), body); c != want {
				t.Fatalf("call %d: %d %s, want %d", i, c, msg, want)
			}
		}
		if got := tb.sim.Grants(appID, "oU", tb.tpl); got != 9 {
			t.Fatalf("faulted calls consumed grants: %d left", got)
		}
	})

	t.Run("AppIDAndMessage", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.sim.AddApp(wechatsim.App{AppID: "wxother", Secret: "s"})
		other := mustToken(t, tb.sim, "wxother", "s")
		tb.sim.InjectFault(wechatsim.Fault{AppID: "wxother", ErrCode: 45011})
		if c := works(t, tb.sim, tb.token); c != 0 {
			t.Fatalf("unmatched app: %d", c)
		}
		if c, msg := errcode(t, tb.sim, "GET", "/wxaapi/newtmpl/gettemplate?access_token="+other, ""); c != 45011 || !contains(msg, "minute-quota") {
			t.Fatalf("matched app: %d %s", c, msg)
		}
		tb.sim.ClearFaults()
		if c := works(t, tb.sim, other); c != 0 {
			t.Fatalf("after ClearFaults: %d", c)
		}
	})

	t.Run("Probability", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.sim.InjectFault(wechatsim.Fault{Probability: 0.25, ErrCode: -1})
		failed := 0
		const n = 2000
		for range n {
			if works(t, tb.sim, tb.token) == -1 {
				failed++
			}
		}
		// Expected 500, standard deviation about 19: the bounds are over 7 sigma away.
		if failed < 360 || failed > 640 {
			t.Fatalf("%d of %d failed, want about 25%%", failed, n)
		}
	})

	t.Run("Hang", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.sim.InjectFault(wechatsim.Fault{Hang: true, Count: 1})
		ctx, cancel := context.WithCancel(context.Background())
		req := httptest.NewRequestWithContext(ctx, "GET", "/wxaapi/newtmpl/gettemplate?access_token="+tb.token, nil)
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			tb.sim.ServeHTTP(rec, req)
			close(done)
		}()
		select {
		case <-done:
			t.Fatal("hung call returned before its context ended")
		default:
		}
		cancel()
		<-done
		if rec.Body.Len() != 0 {
			t.Fatalf("hung call wrote %q", rec.Body)
		}
		if c := works(t, tb.sim, tb.token); c != 0 {
			t.Fatalf("after the one hang: %d", c)
		}
	})

	t.Run("Reset", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		srv := httptest.NewServer(tb.sim)
		defer srv.Close()
		tb.sim.InjectFault(wechatsim.Fault{Path: wechatsim.PathGetTemplate, Reset: true, Count: 1})
		cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		_, err := cl.Get(srv.URL + "/wxaapi/newtmpl/gettemplate?access_token=" + tb.token)
		if err == nil {
			t.Fatal("reset call succeeded")
		}
		resp, err := cl.Get(srv.URL + "/wxaapi/newtmpl/gettemplate?access_token=" + tb.token)
		if err != nil {
			t.Fatalf("after the one reset: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `"errcode":0`) {
			t.Fatalf("body %s", b)
		}
	})
}

func TestLatency(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	// A latency far beyond the test's life must still end when the caller gives up.
	tb.sim.SetLatency(time.Hour, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/wxaapi/newtmpl/gettemplate?access_token="+tb.token, nil)
	tb.sim.ServeHTTP(httptest.NewRecorder(), req)

	// Control calls are never delayed.
	rec := call(t, tb.sim, "GET", "/sim/clock", "")
	if rec.Code != 200 {
		t.Fatalf("control call: %d", rec.Code)
	}
	tb.sim.SetLatency(0, 0)
	if c := works(t, tb.sim, tb.token); c != 0 {
		t.Fatal(c)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatal("context")
	}
}

func TestCalls(t *testing.T) {
	t.Parallel()
	tb := setup(t) // one /cgi-bin/token call
	tb.sim.AddApp(wechatsim.App{AppID: "wx2", Secret: "s"})
	works(t, tb.sim, tb.token)
	works(t, tb.sim, tb.token)
	works(t, tb.sim, "bogus")
	call(t, tb.sim, "POST", sendPath(tb.token), "{")
	for _, tt := range []struct {
		path, appid string
		want        int
	}{
		{wechatsim.PathGetTemplate, appID, 2},
		{wechatsim.PathGetTemplate, "", 3},
		{wechatsim.PathToken, appID, 1},
		{"", appID, 4},
		{"", "", 5},
		{"", "wx2", 0},
		{"/nope", "", 0},
	} {
		if got := tb.sim.Calls(tt.path, tt.appid); got != tt.want {
			t.Errorf("Calls(%q, %q)=%d, want %d", tt.path, tt.appid, got, tt.want)
		}
	}
}
