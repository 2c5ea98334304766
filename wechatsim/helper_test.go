package wechatsim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify/wechatsim"
)

const (
	appID  = "wx0000000000000001"
	secret = "secret0000000000000000000000001"
)

// testBundle is a fresh simulator with one app, a token and a two-keyword template.
type testBundle struct {
	sim   *wechatsim.Server
	token string
	tpl   string // priTmplId with thing1 and time2
}

func setup(t *testing.T, apps ...wechatsim.App) *testBundle {
	t.Helper()
	sim := wechatsim.New(wechatsim.Options{})
	if len(apps) == 0 {
		apps = []wechatsim.App{{AppID: appID, Secret: secret}}
	}
	for _, a := range apps {
		sim.AddApp(a)
	}
	tb := &testBundle{sim: sim}
	tb.token = mustToken(t, sim, apps[0].AppID, apps[0].Secret)
	tb.tpl = sim.AddTemplateDirect(apps[0].AppID, "订单发货通知",
		wechatsim.Keyword{Key: "thing1", Name: "商品名称"},
		wechatsim.Keyword{Key: "time2", Name: "发货时间"})
	return tb
}

func mustToken(t *testing.T, h http.Handler, appid, sec string) string {
	t.Helper()
	rec := call(t, h, "GET", "/cgi-bin/token?grant_type=client_credential&appid="+appid+"&secret="+sec, "")
	var r struct {
		AccessToken string `json:"access_token"`
		ErrCode     int    `json:"errcode"`
	}
	decode(t, rec, &r)
	if r.AccessToken == "" {
		t.Fatalf("no token: %s", rec.Body)
	}
	return r.AccessToken
}

func call(t *testing.T, h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	var rd *bytes.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	} else {
		rd = bytes.NewReader(nil)
	}
	req := httptest.NewRequest(method, target, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decode(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
}

type apiResult struct {
	ErrCode int         `json:"errcode"`
	ErrMsg  string      `json:"errmsg"`
	MsgID   json.Number `json:"msgid"`
}

// errcode calls the API and returns errcode and errmsg.
func errcode(t *testing.T, h http.Handler, method, target, body string) (int, string) {
	t.Helper()
	rec := call(t, h, method, target, body)
	var r apiResult
	decode(t, rec, &r)
	return r.ErrCode, r.ErrMsg
}

func sendPath(token string) string {
	return "/cgi-bin/message/subscribe/send?access_token=" + url.QueryEscape(token)
}

func sendBody(openid, tpl string, kv ...string) string {
	data := map[string]map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		data[kv[i]] = map[string]string{"value": kv[i+1]}
	}
	b, _ := json.Marshal(map[string]any{"touser": openid, "template_id": tpl, "page": "pages/index/index", "data": data})
	return string(b)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
