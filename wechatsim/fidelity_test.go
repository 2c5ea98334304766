package wechatsim_test

import (
	"encoding/json"
	"testing"

	"github.com/wxnotify/wxnotify/wechatsim"
)

// These tests pin the answers a client's error handling depends on, each as
// decided in docs/wechat.md ("Errcodes") from the official reference or, where
// it is silent, from community reports.

const ctJSON = "application/json; encoding=utf-8"

func TestContentType(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	for _, tt := range []struct {
		name, method, target, body, want string
	}{
		{"Token", "GET", tokenURL(appID, secret), "", ctJSON},
		{"TokenError", "GET", tokenURL(appID, "wrong"), "", ctJSON},
		{"StableToken", "POST", wechatsim.PathStableToken, `{"grant_type":"client_credential","appid":"` + appID + `","secret":"` + secret + `"}`, ctJSON},
		{"Send", "POST", sendPath(tb.token), "{", ctJSON},
		{"Code2SessionError", "GET", "/sns/jscode2session?appid=" + appID + "&secret=" + secret + "&js_code=nope&grant_type=authorization_code", "", "text/plain"},
		{"UnknownPath", "GET", "/cgi-bin/nope", "", ctJSON},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := call(t, tb.sim, tt.method, tt.target, tt.body)
			if got := rec.Header().Get("Content-Type"); got != tt.want {
				t.Fatalf("Content-Type=%q, want %q", got, tt.want)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("body is not JSON: %s", rec.Body)
			}
		})
	}
}

func TestUnknownPath(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	for _, target := range []string{"/cgi-bin/nope", "/cgi-bin/token/", "/cgi-bin/wxa/getwxacode", "/"} {
		rec := call(t, tb.sim, "POST", target+"?access_token="+tb.token, "{}")
		if rec.Code != 200 {
			t.Fatalf("%s: HTTP %d, want 200", target, rec.Code)
		}
		var r apiResult
		decode(t, rec, &r)
		if r.ErrCode != 40066 || !contains(r.ErrMsg, "invalid url rid: ") {
			t.Fatalf("%s: %+v, want 40066 invalid url", target, r)
		}
	}
	if got := tb.sim.Calls("/cgi-bin/nope", ""); got != 0 {
		t.Fatalf("unknown path counted: %d", got)
	}
}

func TestEmptyPostBody(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	for _, path := range []string{
		wechatsim.PathSubscribeSend, wechatsim.PathTemplateSend, wechatsim.PathAddTemplate,
		wechatsim.PathDelTemplate, wechatsim.PathLibraryList, wechatsim.PathLegacyList,
	} {
		if code, msg := errcode(t, tb.sim, "POST", path+"?access_token="+tb.token, ""); code != 44002 || !contains(msg, "empty post data") {
			t.Errorf("%s, empty body: %d %q, want 44002 empty post data", path, code, msg)
		}
	}
	if code, _ := errcode(t, tb.sim, "POST", wechatsim.PathStableToken, ""); code != 44002 {
		t.Errorf("stable_token, empty body: %d, want 44002", code)
	}
	// The token checks come first: an empty body with a bad token is a token error.
	if code, _ := errcode(t, tb.sim, "POST", sendPath("bogus"), ""); code != 40001 {
		t.Errorf("empty body, bogus token: %d, want 40001", code)
	}
	// A body that is present but not JSON is 47001; "{}" reaches the handler.
	if code, _ := errcode(t, tb.sim, "POST", sendPath(tb.token), "not json"); code != 47001 {
		t.Errorf("garbage body: %d, want 47001", code)
	}
	if code, _ := errcode(t, tb.sim, "POST", sendPath(tb.token), "{}"); code != 40003 {
		t.Errorf("{} body: %d, want 40003 (empty touser)", code)
	}
}

func TestAccessTokenForms(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	other := setup(t) // a token of another simulator: well-formed, never issued here
	for _, tt := range []struct {
		name, token string
		want        int
	}{
		{"Missing", "", 41001},
		{"Garbage", "bogus", 40001},
		{"Truncated", tb.token[:len(tb.token)-1], 40001},
		{"Extended", tb.token + "x", 40001},
		{"Spaces", "%20" + tb.token, 40001},
		{"NeverIssued", other.token, 40001},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := wechatsim.PathGetTemplate
			if tt.token != "" {
				target += "?access_token=" + tt.token
			}
			if code, _ := errcode(t, tb.sim, "GET", target, ""); code != tt.want {
				t.Fatalf("errcode %d, want %d", code, tt.want)
			}
		})
	}
}

func TestUnknownOpenID(t *testing.T) {
	t.Parallel()

	t.Run("Subscribe", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		body := func(to string) string { return sendBody(to, tb.tpl, "thing1", "x", "time2", "15:01") }
		if code, msg := errcode(t, tb.sim, "POST", sendPath(tb.token), body("oNever")); code != 40003 || !contains(msg, "invalid openid") {
			t.Fatalf("never-seen openid: %d %q, want 40003", code, msg)
		}
		// A user who logged in but accepted nothing is a user: WeChat refuses the send for
		// lack of an acceptance, not for the openid.
		tb.sim.MintLoginCode(appID, "oLoggedIn")
		if code, _ := errcode(t, tb.sim, "POST", sendPath(tb.token), body("oLoggedIn")); code != 43101 {
			t.Fatalf("logged-in user without acceptance: %d, want 43101", code)
		}
		tb.sim.GrantSubscribe(appID, "oGranted", tb.tpl, 1)
		if code, _ := errcode(t, tb.sim, "POST", sendPath(tb.token), body("oGranted")); code != 0 {
			t.Fatalf("granted user: %d, want 0", code)
		}
		if code, _ := errcode(t, tb.sim, "POST", sendPath(tb.token), body("oGranted")); code != 43101 {
			t.Fatalf("granted user, acceptance used: %d, want 43101", code)
		}
		// Another app's user is unknown here.
		tb.sim.AddApp(wechatsim.App{AppID: "wx2", Secret: "s2"})
		tb.sim.GrantSubscribe("wx2", "oOtherApp", tb.tpl, 1)
		if code, _ := errcode(t, tb.sim, "POST", sendPath(tb.token), body("oOtherApp")); code != 40003 {
			t.Fatalf("another app's openid: %d, want 40003", code)
		}
		if n := len(tb.sim.Inbox(appID, "oNever")); n != 0 {
			t.Fatalf("inbox of unknown openid: %d", n)
		}
	})

	t.Run("Template", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tpl := tb.sim.AddLegacyTemplateDirect(appID, "购买成功通知", "物品名称")
		body := func(to, form string) string {
			b, _ := json.Marshal(map[string]any{"touser": to, "template_id": tpl, "form_id": form,
				"data": map[string]any{"keyword1": map[string]string{"value": "咖啡"}}})
			return string(b)
		}
		path := wechatsim.PathTemplateSend + "?access_token=" + tb.token
		if code, _ := errcode(t, tb.sim, "POST", path, body("oNever", "f")); code != 40003 {
			t.Fatalf("never-seen openid: %d, want 40003", code)
		}
		form := tb.sim.MintFormID(appID, "oForm")
		if code, _ := errcode(t, tb.sim, "POST", path, body("oForm", form)); code != 0 {
			t.Fatalf("user with a form_id: %d, want 0", code)
		}
		// A user with a form_id of their own, sending with another's: 41028, not 40003.
		other := tb.sim.MintFormID(appID, "oOther")
		tb.sim.MintFormID(appID, "oSecond")
		if code, _ := errcode(t, tb.sim, "POST", path, body("oSecond", other)); code != 41028 {
			t.Fatalf("someone else's form_id: %d, want 41028", code)
		}
	})
}

func TestDataKeyTemplateLacks(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.sim.GrantSubscribe(appID, "oU", tb.tpl, 1)
	body := sendBody("oU", tb.tpl, "thing1", "x", "time2", "15:01", "thing9", "not in the template")
	if code, msg := errcode(t, tb.sim, "POST", sendPath(tb.token), body); code != 0 {
		t.Fatalf("extra data key: %d %s, want 0 (ignored)", code, msg)
	}
	in := tb.sim.Inbox(appID, "oU")
	if len(in) != 1 || len(in[0].Data) != 2 || in[0].Data["thing9"] != "" {
		t.Fatalf("inbox %+v, want the template's two keywords only", in)
	}
	// A key the template has, missing, is 47003 even when other keys are sent instead
	// (community: "thing1.DATA" keys answered "data.thing1.value is empty").
	tb.sim.GrantSubscribe(appID, "oU", tb.tpl, 1)
	body = sendBody("oU", tb.tpl, "thing1.DATA", "x", "time2", "15:01")
	if code, msg := errcode(t, tb.sim, "POST", sendPath(tb.token), body); code != 47003 || !contains(msg, "data.thing1.value") {
		t.Fatalf("key missing: %d %q, want 47003 naming data.thing1.value", code, msg)
	}
}

func TestCode2SessionParams(t *testing.T) {
	t.Parallel()
	sim := wechatsim.New(wechatsim.Options{})
	sim.AddApp(wechatsim.App{AppID: appID, Secret: secret})
	code := sim.MintLoginCode(appID, "oLogin")
	base := "/sns/jscode2session?appid=" + appID + "&secret=" + secret
	for _, tt := range []struct {
		name, target string
		want         int
		msg          string
	}{
		{"GrantTypeMissing", base + "&js_code=" + code, 40002, "invalid grant_type"},
		{"GrantTypeWrong", base + "&js_code=" + code + "&grant_type=client_credential", 40002, "invalid grant_type"},
		{"JSCodeMissing", base + "&grant_type=authorization_code", 41008, "missing code"},
		{"JSCodeEmpty", base + "&js_code=&grant_type=authorization_code", 41008, "missing code"},
		{"JSCodeMisnamed", base + "&code=" + code + "&grant_type=authorization_code", 41008, "missing code"},
		{"SecretMissing", "/sns/jscode2session?appid=" + appID + "&js_code=" + code + "&grant_type=authorization_code", 41004, "appsecret missing"},
		{"AppIDMissing", "/sns/jscode2session?secret=" + secret + "&js_code=" + code + "&grant_type=authorization_code", 41002, "appid missing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := errcode(t, sim, "GET", tt.target, "")
			if got != tt.want || !contains(msg, tt.msg) {
				t.Fatalf("errcode %d %q, want %d %q", got, msg, tt.want, tt.msg)
			}
		})
	}
	// None of the refusals used the code up.
	var r struct {
		OpenID string `json:"openid"`
	}
	decode(t, call(t, sim, "GET", base+"&js_code="+code+"&grant_type=authorization_code", ""), &r)
	if r.OpenID != "oLogin" {
		t.Fatalf("code after refused calls: openid %q", r.OpenID)
	}
}
