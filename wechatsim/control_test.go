package wechatsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify/wechatsim"
)

func TestControlAPI(t *testing.T) {
	t.Parallel()
	cbSrv, ch := callbackServer(t)
	sim := wechatsim.New(wechatsim.Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()

	do := func(method, path, body string, out any) int {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, b)
			}
		}
		return resp.StatusCode
	}

	if c := do("POST", "/sim/apps", `{"appid":"wxc","secret":"sc","callback_url":"`+cbSrv.URL+`","callback_token":"tok"}`, nil); c != 200 {
		t.Fatalf("apps: %d", c)
	}
	var apps struct{ Apps []string }
	do("GET", "/sim/apps", "", &apps)
	if len(apps.Apps) != 1 || apps.Apps[0] != "wxc" {
		t.Fatalf("apps %+v", apps)
	}
	var tpl struct {
		TemplateID string `json:"template_id"`
	}
	do("POST", "/sim/templates", `{"appid":"wxc","title":"通知","keywords":[{"key":"thing1","name":"内容"}]}`, &tpl)
	var sub struct{ Remaining int }
	do("POST", "/sim/subscriptions", `{"appid":"wxc","openid":"oC","template_id":"`+tpl.TemplateID+`","count":2}`, &sub)
	if sub.Remaining != 2 {
		t.Fatalf("subscriptions %+v", sub)
	}
	var code struct{ Code string }
	do("POST", "/sim/login_codes", `{"appid":"wxc","openid":"oC"}`, &code)
	var sess struct{ OpenID string }
	do("GET", "/sns/jscode2session?appid=wxc&secret=sc&js_code="+code.Code+"&grant_type=authorization_code", "", &sess)
	if sess.OpenID != "oC" {
		t.Fatalf("session %+v", sess)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	do("GET", "/cgi-bin/token?grant_type=client_credential&appid=wxc&secret=sc", "", &tok)

	do("POST", "/sim/faults", `{"path":"/cgi-bin/message/subscribe/send","errcode":-1,"count":1}`, nil)
	var res apiResult
	send := `{"touser":"oC","template_id":"` + tpl.TemplateID + `","data":{"thing1":{"value":"你好"}}}`
	do("POST", "/cgi-bin/message/subscribe/send?access_token="+tok.AccessToken, send, &res)
	if res.ErrCode != -1 {
		t.Fatalf("fault: %+v", res)
	}
	do("POST", "/cgi-bin/message/subscribe/send?access_token="+tok.AccessToken, send, &res)
	if res.ErrCode != 0 {
		t.Fatalf("send: %+v", res)
	}
	do("POST", "/sim/faults", `{"errcode":45009}`, nil)
	do("DELETE", "/sim/faults", "", nil)

	var inbox []wechatsim.Delivered
	do("GET", "/sim/inbox?appid=wxc&openid=oC", "", &inbox)
	if len(inbox) != 1 || inbox[0].Data["thing1"] != "你好" {
		t.Fatalf("inbox %+v", inbox)
	}
	do("GET", "/sim/inbox?appid=wxc", "", &inbox)
	if len(inbox) != 1 {
		t.Fatalf("app inbox %+v", inbox)
	}
	var calls struct{ Count, Delivered int }
	do("GET", "/sim/calls?path=/cgi-bin/message/subscribe/send&appid=wxc", "", &calls)
	if calls.Count != 2 || calls.Delivered != 1 {
		t.Fatalf("calls %+v", calls)
	}

	var form, prepay struct {
		FormID   string `json:"form_id"`
		PrepayID string `json:"prepay_id"`
	}
	do("POST", "/sim/form_ids", `{"appid":"wxc","openid":"oC"}`, &form)
	do("POST", "/sim/prepay_ids", `{"appid":"wxc","openid":"oC"}`, &prepay)
	if form.FormID == "" || prepay.PrepayID == "" {
		t.Fatal("form_id or prepay_id missing")
	}

	var clock struct{ Now string }
	do("POST", "/sim/clock/advance", `{"duration":"2h"}`, &clock)
	do("POST", "/cgi-bin/message/subscribe/send?access_token="+tok.AccessToken, send, &res)
	if res.ErrCode != 42001 {
		t.Fatalf("after 2h: %+v", res)
	}
	do("GET", "/cgi-bin/token?grant_type=client_credential&appid=wxc&secret=sc", "", &tok)
	do("POST", "/sim/revoke", `{"appid":"wxc"}`, nil)
	do("POST", "/cgi-bin/message/subscribe/send?access_token="+tok.AccessToken, send, &res)
	if res.ErrCode != 40001 {
		t.Fatalf("after revoke: %+v", res)
	}
	if c := do("POST", "/sim/latency", `{"fixed":"1ms","jitter":"1ms"}`, nil); c != 200 {
		t.Fatalf("latency: %d", c)
	}
	do("POST", "/sim/latency", `{}`, nil)

	if c := do("POST", "/sim/events", `{"appid":"wxc","type":"subscribe_msg_popup_event","openid":"oC","list":[{"template_id":"T","subscribe_status":"accept"}]}`, nil); c != 200 {
		t.Fatalf("events: %d", c)
	}
	if got := <-ch; !strings.Contains(string(got.body), "subscribe_msg_popup_event") {
		t.Fatalf("pushed %s", got.body)
	}

	for _, tt := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/sim/apps", `{`, 400},
		{"POST", "/sim/apps", `{"appid":"x"}`, 400},
		{"POST", "/sim/login_codes", `{"appid":"nope"}`, 404},
		{"GET", "/sim/nope", "", 404},
		{"POST", "/sim/clock/advance", `{"duration":"soon"}`, 400},
	} {
		if c := do(tt.method, tt.path, tt.body, nil); c != tt.want {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, c, tt.want)
		}
	}

	resp, err := http.Get(srv.URL + "/sim/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(page), "你好") || !strings.Contains(string(page), tpl.TemplateID) {
		t.Fatalf("inbox page: %s", page)
	}
}
