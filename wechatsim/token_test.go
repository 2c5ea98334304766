package wechatsim_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/wechatsim"
)

func tokenURL(appid, sec string) string {
	return "/cgi-bin/token?grant_type=client_credential&appid=" + appid + "&secret=" + sec
}

func TestToken(t *testing.T) {
	t.Parallel()

	t.Run("NewTokenEachCallOldOneOverlaps", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		rec := call(t, tb.sim, "GET", tokenURL(appID, secret), "")
		if got, want := rec.Header().Get("Content-Type"), "application/json; encoding=utf-8"; got != want {
			t.Fatalf("Content-Type=%q, want %q", got, want)
		}
		var r struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int    `json:"expires_in"`
		}
		decode(t, rec, &r)
		if r.AccessToken == tb.token || r.ExpiresIn != 7200 {
			t.Fatalf("second token %+v, first %q", r, tb.token)
		}
		tb.sim.GrantSubscribe(appID, "oU", tb.tpl, 10)
		body := sendBody("oU", tb.tpl, "thing1", "x", "time2", "15:01")
		if code, msg := errcode(t, tb.sim, "POST", sendPath(tb.token), body); code != 0 {
			t.Fatalf("old token right after refresh: %d %s", code, msg)
		}
		tb.sim.Advance(4*time.Minute + 50*time.Second)
		if code, _ := errcode(t, tb.sim, "POST", sendPath(tb.token), body); code != 0 {
			t.Fatalf("old token within 5 min: %d", code)
		}
		tb.sim.Advance(11 * time.Second)
		if code, _ := errcode(t, tb.sim, "POST", sendPath(tb.token), body); code != 40001 {
			t.Fatalf("old token after 5 min: errcode=%d, want 40001", code)
		}
		if code, _ := errcode(t, tb.sim, "POST", sendPath(r.AccessToken), body); code != 0 {
			t.Fatalf("new token: %d", code)
		}
	})

	t.Run("ExpiresAfter7200s", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.sim.Advance(7199 * time.Second)
		if code, _ := errcode(t, tb.sim, "GET", "/wxaapi/newtmpl/gettemplate?access_token="+tb.token, ""); code != 0 {
			t.Fatalf("before expiry: %d", code)
		}
		tb.sim.Advance(2 * time.Second)
		if code, _ := errcode(t, tb.sim, "GET", "/wxaapi/newtmpl/gettemplate?access_token="+tb.token, ""); code != 42001 {
			t.Fatalf("after expiry errcode=%d, want 42001", code)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		for _, tt := range []struct {
			name   string
			target string
			want   int
		}{
			{"GrantTypeMissing", "/cgi-bin/token?appid=" + appID + "&secret=" + secret, 40002},
			{"GrantTypeWrong", "/cgi-bin/token?grant_type=x&appid=" + appID + "&secret=" + secret, 40002},
			{"AppIDMissing", "/cgi-bin/token?grant_type=client_credential&secret=" + secret, 41002},
			{"AppIDUnknown", tokenURL("wxnope", secret), 40013},
			{"SecretMissing", "/cgi-bin/token?grant_type=client_credential&appid=" + appID, 41004},
			{"SecretWrong", tokenURL(appID, "wrong"), 40125},
		} {
			code, msg := errcode(t, tb.sim, "GET", tt.target, "")
			if code != tt.want {
				t.Errorf("%s: errcode=%d (%s), want %d", tt.name, code, msg, tt.want)
			}
			if !contains(msg, " rid: ") {
				t.Errorf("%s: errmsg %q has no rid", tt.name, msg)
			}
		}
	})

	t.Run("DailyQuotaResetsAtMidnightCST", func(t *testing.T) {
		t.Parallel()
		sim := wechatsim.New(wechatsim.Options{})
		sim.AddApp(wechatsim.App{AppID: appID, Secret: secret, DailyTokenQuota: 3})
		// Move to 12:00 CST so the test does not straddle a midnight.
		now := sim.Now().In(time.FixedZone("CST", 8*3600))
		noon := time.Date(now.Year(), now.Month(), now.Day()+1, 12, 0, 0, 0, now.Location())
		sim.Advance(noon.Sub(now))
		for i := range 3 {
			if code, _ := errcode(t, sim, "GET", tokenURL(appID, secret), ""); code != 0 {
				t.Fatalf("call %d: %d", i, code)
			}
		}
		if code, _ := errcode(t, sim, "GET", tokenURL(appID, secret), ""); code != 45009 {
			t.Fatalf("over quota errcode=%d, want 45009", code)
		}
		sim.Advance(11*time.Hour + 59*time.Minute)
		if code, _ := errcode(t, sim, "GET", tokenURL(appID, secret), ""); code != 45009 {
			t.Fatalf("23:59 errcode=%d, want 45009", code)
		}
		sim.Advance(2 * time.Minute)
		if code, _ := errcode(t, sim, "GET", tokenURL(appID, secret), ""); code != 0 {
			t.Fatalf("after midnight errcode=%d, want 0", code)
		}
	})

	t.Run("DefaultQuotaIs2000", func(t *testing.T) {
		t.Parallel()
		if wechatsim.DefaultDailyTokenQuota != 2000 {
			t.Fatal(wechatsim.DefaultDailyTokenQuota)
		}
	})
}

type stableResp struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	ErrCode     int    `json:"errcode"`
}

func stable(t *testing.T, sim *wechatsim.Server, force bool) stableResp {
	t.Helper()
	body := fmt.Sprintf(`{"grant_type":"client_credential","appid":%q,"secret":%q,"force_refresh":%v}`, appID, secret, force)
	rec := call(t, sim, "POST", "/cgi-bin/stable_token", body)
	var r stableResp
	decode(t, rec, &r)
	return r
}

func works(t *testing.T, sim *wechatsim.Server, token string) int {
	t.Helper()
	code, _ := errcode(t, sim, "GET", "/wxaapi/newtmpl/gettemplate?access_token="+token, "")
	return code
}

func TestStableToken(t *testing.T) {
	t.Parallel()

	t.Run("SameTokenWhileValid", func(t *testing.T) {
		t.Parallel()
		sim := setup(t).sim
		a := stable(t, sim, false)
		if a.AccessToken == "" || a.ExpiresIn != 7200 {
			t.Fatalf("first %+v", a)
		}
		sim.Advance(time.Hour)
		b := stable(t, sim, false)
		if b.AccessToken != a.AccessToken || b.ExpiresIn != 3600 {
			t.Fatalf("after 1h got %+v, want same token with 3600", b)
		}
	})

	t.Run("LastFiveMinutesOverlap", func(t *testing.T) {
		t.Parallel()
		sim := setup(t).sim
		a := stable(t, sim, false)
		sim.Advance(7200*time.Second - 4*time.Minute)
		b := stable(t, sim, false)
		if b.AccessToken == a.AccessToken || b.ExpiresIn != 7200 {
			t.Fatalf("in last 5 min got %+v", b)
		}
		if c := works(t, sim, a.AccessToken); c != 0 {
			t.Fatalf("old token before its expiry: %d", c)
		}
		sim.Advance(4*time.Minute + time.Second)
		if c := works(t, sim, a.AccessToken); c != 42001 {
			t.Fatalf("old token after its expiry: %d, want 42001", c)
		}
		if c := works(t, sim, b.AccessToken); c != 0 {
			t.Fatalf("new token: %d", c)
		}
	})

	t.Run("ForceRefreshInvalidatesAtOnce", func(t *testing.T) {
		t.Parallel()
		sim := setup(t).sim
		a := stable(t, sim, false)
		b := stable(t, sim, true)
		if b.AccessToken == a.AccessToken {
			t.Fatal("force refresh kept the token")
		}
		if c := works(t, sim, a.AccessToken); c != 40001 {
			t.Fatalf("old token after force refresh: %d, want 40001", c)
		}
		// Within 30 s a second force refresh does not refresh.
		sim.Advance(29 * time.Second)
		if c := stable(t, sim, true); c.AccessToken != b.AccessToken {
			t.Fatal("force refresh within 30s refreshed")
		}
		sim.Advance(2 * time.Second)
		if c := stable(t, sim, true); c.AccessToken == b.AccessToken {
			t.Fatal("force refresh after 30s did not refresh")
		}
	})

	t.Run("ForceRefreshTwentyPerDay", func(t *testing.T) {
		t.Parallel()
		sim := setup(t).sim
		now := sim.Now().In(time.FixedZone("CST", 8*3600))
		sim.Advance(time.Date(now.Year(), now.Month(), now.Day()+1, 1, 0, 0, 0, now.Location()).Sub(now))
		for i := range 20 {
			if r := stable(t, sim, true); r.ErrCode != 0 {
				t.Fatalf("refresh %d: %d", i, r.ErrCode)
			}
			sim.Advance(31 * time.Second)
		}
		if r := stable(t, sim, true); r.ErrCode != 45009 {
			t.Fatalf("21st refresh errcode=%d, want 45009", r.ErrCode)
		}
		if r := stable(t, sim, false); r.ErrCode != 0 {
			t.Fatalf("normal mode after force quota: %d", r.ErrCode)
		}
	})

	t.Run("IsolatedFromGetAccessToken", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		a := stable(t, tb.sim, false)
		mustToken(t, tb.sim, appID, secret)
		tb.sim.Advance(10 * time.Minute)
		if c := works(t, tb.sim, a.AccessToken); c != 0 {
			t.Fatalf("stable token after /cgi-bin/token refresh: %d", c)
		}
		stable(t, tb.sim, true)
		t2 := mustToken(t, tb.sim, appID, secret)
		if c := works(t, tb.sim, t2); c != 0 {
			t.Fatalf("token after stable force refresh: %d", c)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		sim := setup(t).sim
		for _, tt := range []struct {
			name, method, body string
			want               int
		}{
			{"Malformed", "POST", `{"grant_type":`, 47001},
			{"GrantType", "POST", `{"grant_type":"x","appid":"` + appID + `","secret":"` + secret + `"}`, 40002},
			{"AppID", "POST", `{"grant_type":"client_credential","appid":"wxno","secret":"x"}`, 40013},
			{"Secret", "POST", `{"grant_type":"client_credential","appid":"` + appID + `","secret":"x"}`, 40125},
			{"GET", "GET", "", 43002},
		} {
			if code, _ := errcode(t, sim, tt.method, "/cgi-bin/stable_token", tt.body); code != tt.want {
				t.Errorf("%s: errcode=%d, want %d", tt.name, code, tt.want)
			}
		}
	})
}

func TestRevokeTokens(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	st := stable(t, tb.sim, false)
	tb.sim.RevokeTokens(appID)
	for _, tok := range []string{tb.token, st.AccessToken} {
		if c := works(t, tb.sim, tok); c != 40001 {
			t.Fatalf("revoked token: %d, want 40001", c)
		}
	}
	if st2 := stable(t, tb.sim, false); st2.AccessToken == st.AccessToken || works(t, tb.sim, st2.AccessToken) != 0 {
		t.Fatal("stable_token after revoke did not issue a working token")
	}
	if c := works(t, tb.sim, mustToken(t, tb.sim, appID, secret)); c != 0 {
		t.Fatalf("fresh token after revoke: %d", c)
	}
}

func TestAccessTokenChecks(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	if c, _ := errcode(t, tb.sim, "GET", "/wxaapi/newtmpl/gettemplate", ""); c != 41001 {
		t.Fatalf("missing token: %d, want 41001", c)
	}
	if c, _ := errcode(t, tb.sim, "GET", "/wxaapi/newtmpl/gettemplate?access_token=bogus", ""); c != 40001 {
		t.Fatalf("bogus token: %d, want 40001", c)
	}
	if c, _ := errcode(t, tb.sim, "GET", sendPath(tb.token), ""); c != 43002 {
		t.Fatalf("GET send: %d, want 43002", c)
	}
	if rec := call(t, tb.sim, "GET", "/cgi-bin/nope", ""); rec.Code != 200 || !contains(rec.Body.String(), `"errcode":40066`) {
		t.Fatalf("unknown path: HTTP %d %s, want 200 and errcode 40066", rec.Code, rec.Body)
	}
}

func TestOptionsNow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sim := wechatsim.New(wechatsim.Options{Now: func() time.Time { return now }})
	sim.AddApp(wechatsim.App{AppID: appID, Secret: secret})
	tok := mustToken(t, sim, appID, secret)
	sim.Advance(3 * time.Hour) // the caller owns the clock: no effect
	if !sim.Now().Equal(now) || works(t, sim, tok) != 0 {
		t.Fatal("Advance moved a caller-owned clock")
	}
	now = now.Add(2 * time.Hour)
	if c := works(t, sim, tok); c != 42001 {
		t.Fatalf("after the caller's clock moved 2h: %d, want 42001", c)
	}
	if rec := call(t, sim, "POST", "/sim/clock/advance", `{"seconds":1}`); rec.Code != 409 {
		t.Fatalf("control advance of a caller-owned clock: %d, want 409", rec.Code)
	}
}
