package wechat_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/wechat"
)

// Secrets used by the tests. They are long and distinct so that a leak of
// any of them into an error or log line is found by substring search.
const (
	testAppID      = "wx1234567890abcdef"
	testSecret     = "SECRET-0f3a9c1e7b5d4f2a8c6e0b9d7f5a3c1e"
	testToken      = "TOKEN-78_aZ9yX8wV7uT6sR5qP4oN3mL2kJ1iH0gF"
	testJSCode     = "JSCODE-0a1b2c3d4e5f6a7b8c9d0e1f"
	testSessionKey = "SESSIONKEY-tiihtNczf5v6AKRyjwEUhQ=="
	testFormID     = "FORMID-wx20231225123456789abcdef0123"
)

// request is what a fixture server saw.
type request struct {
	Method      string
	Path        string
	RawQuery    string
	Query       url.Values
	ContentType string
	Body        string
}

// fixture is an httptest server that answers every request with one canned
// response and records what it received.
type fixture struct {
	srv *httptest.Server

	mu          sync.Mutex
	reqs        []request
	status      int
	contentType string
	body        string
}

func newFixture(t testing.TB) (*wechat.Client, *fixture) {
	t.Helper()
	f := &fixture{status: http.StatusOK, contentType: "application/json; encoding=utf-8", body: `{"errcode":0,"errmsg":"ok"}`}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, request{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Query: r.URL.Query(),
			ContentType: r.Header.Get("Content-Type"), Body: string(b),
		})
		status, ct, body := f.status, f.contentType, f.body
		f.mu.Unlock()
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(f.srv.Close)
	return wechat.New(wechat.Options{BaseURL: f.srv.URL}), f
}

func (f *fixture) respond(status int, contentType, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.contentType, f.body = status, contentType, body
}

func (f *fixture) last(t testing.TB) request {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("no request received")
	}
	return f.reqs[len(f.reqs)-1]
}

// tokenQ is the query of endpoints that take only an access_token.
var tokenQ = url.Values{"access_token": {testToken}}

func withToken(kv ...string) url.Values {
	v := url.Values{"access_token": {testToken}}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// TestEndpoints checks, for every endpoint, the exact request the client
// sends and the decoding of the documented success answer.
func TestEndpoints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		call      func(context.Context, *wechat.Client) (any, error)
		answer    string
		method    string
		path      string
		query     url.Values
		ct        string // request Content-Type; "" for none
		body      string // exact request body
		want      any
		wantClass wechat.Class // class of the 40001 answer on this endpoint
	}{
		{
			name: "GetAccessToken",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return c.GetAccessToken(ctx, testAppID, testSecret)
			},
			answer: `{"access_token":"` + testToken + `","expires_in":7200}`,
			method: "GET", path: "/cgi-bin/token",
			query: url.Values{"grant_type": {"client_credential"}, "appid": {testAppID}, "secret": {testSecret}},
			want:  wechat.AccessToken{Token: testToken, ExpiresIn: 2 * time.Hour}, wantClass: wechat.ClassPermanent,
		},
		{
			name: "GetStableAccessToken",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return c.GetStableAccessToken(ctx, testAppID, testSecret, false)
			},
			answer: `{"access_token":"` + testToken + `","expires_in":7000}`,
			method: "POST", path: "/cgi-bin/stable_token", query: url.Values{}, ct: "application/json",
			body: `{"grant_type":"client_credential","appid":"` + testAppID + `","secret":"` + testSecret + `","force_refresh":false}`,
			want: wechat.AccessToken{Token: testToken, ExpiresIn: 7000 * time.Second}, wantClass: wechat.ClassPermanent,
		},
		{
			name: "GetStableAccessTokenForce",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return c.GetStableAccessToken(ctx, testAppID, testSecret, true)
			},
			answer: `{"access_token":"` + testToken + `","expires_in":7200}`,
			method: "POST", path: "/cgi-bin/stable_token", query: url.Values{}, ct: "application/json",
			body: `{"grant_type":"client_credential","appid":"` + testAppID + `","secret":"` + testSecret + `","force_refresh":true}`,
			want: wechat.AccessToken{Token: testToken, ExpiresIn: 2 * time.Hour}, wantClass: wechat.ClassPermanent,
		},
		{
			name: "Code2Session",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return c.Code2Session(ctx, testAppID, testSecret, testJSCode)
			},
			answer: `{"openid":"o6_bmjrPTlm6_2sgVt7hMZOPfL2M","session_key":"` + testSessionKey + `","unionid":"o6_bmasdasdsad6_2sgVt7hMZOPfL"}`,
			method: "GET", path: "/sns/jscode2session",
			query: url.Values{"appid": {testAppID}, "secret": {testSecret}, "js_code": {testJSCode}, "grant_type": {"authorization_code"}},
			want:  wechat.Session{OpenID: "o6_bmjrPTlm6_2sgVt7hMZOPfL2M", SessionKey: testSessionKey, UnionID: "o6_bmasdasdsad6_2sgVt7hMZOPfL"}, wantClass: wechat.ClassPermanent,
		},
		{
			name: "SendSubscribe",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return c.SendSubscribe(ctx, testToken, &wechat.SubscribeMessage{
					ToUser: "OPENID", TemplateID: "TEMPLATE_ID", Page: "pages/index/index?foo=bar&x=<1>",
					Data:             wechat.Data{"thing1": "<b>R&D</b> \"quoted\"", "time2": "2019-12-20 16:52", "amount3": "¥1.00"},
					MiniprogramState: wechat.MiniprogramStateTrial, Lang: wechat.LangEnUS,
				})
			},
			answer: `{"errcode":0,"errmsg":"ok","msgid":2367374098364457001}`,
			method: "POST", path: "/cgi-bin/message/subscribe/send", query: tokenQ, ct: "application/json",
			body: `{"touser":"OPENID","template_id":"TEMPLATE_ID","page":"pages/index/index?foo=bar&x=<1>",` +
				`"data":{"amount3":{"value":"¥1.00"},"thing1":{"value":"<b>R&D</b> \"quoted\""},"time2":{"value":"2019-12-20 16:52"}},` +
				`"miniprogram_state":"trial","lang":"en_US"}`,
			want: "2367374098364457001", wantClass: wechat.ClassToken,
		},
		{
			name: "SendSubscribeMinimal",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return c.SendSubscribe(ctx, testToken, &wechat.SubscribeMessage{ToUser: "OPENID", TemplateID: "TID"})
			},
			answer: `{"errcode":0,"errmsg":"ok","msgid":"18446744073709551615"}`,
			method: "POST", path: "/cgi-bin/message/subscribe/send", query: tokenQ, ct: "application/json",
			body: `{"touser":"OPENID","template_id":"TID","data":{}}`,
			want: "18446744073709551615", wantClass: wechat.ClassToken,
		},
		{
			name: "SendTemplate",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return nil, c.SendTemplate(ctx, testToken, &wechat.TemplateMessage{
					ToUser: "OPENID", TemplateID: "TEMPLATE_ID", Page: "index", FormID: testFormID,
					Data:            wechat.Data{"keyword1": "339208499", "keyword2": "2015年01月05日 12:30"},
					EmphasisKeyword: "keyword1.DATA",
				})
			},
			answer: `{"errcode":0,"errmsg":"ok"}`,
			method: "POST", path: "/cgi-bin/message/wxopen/template/send", query: tokenQ, ct: "application/json",
			body: `{"touser":"OPENID","template_id":"TEMPLATE_ID","page":"index","form_id":"` + testFormID + `",` +
				`"data":{"keyword1":{"value":"339208499"},"keyword2":{"value":"2015年01月05日 12:30"}},"emphasis_keyword":"keyword1.DATA"}`,
			want: nil, wantClass: wechat.ClassToken,
		},
		{
			name: "SubscribeCategories",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return c.SubscribeCategories(ctx, testToken)
			},
			answer: `{"errcode":0,"errmsg":"ok","data":[{"id":616,"name":"公交"}]}`,
			method: "GET", path: "/wxaapi/newtmpl/getcategory", query: tokenQ,
			want: []wechat.Category{{ID: 616, Name: "公交"}}, wantClass: wechat.ClassToken,
		},
		{
			name: "SubscribePubTemplateTitles",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return c.SubscribePubTemplateTitles(ctx, testToken, []int{2, 616}, 0, 1)
			},
			// categoryId is documented as a number but the example sends "616".
			answer: `{"errcode":0,"errmsg":"ok","count":55,"data":[{"tid":99,"title":"付款成功通知","type":2,"categoryId":"616"},{"tid":"100","title":"t","type":3,"categoryId":2}]}`,
			method: "GET", path: "/wxaapi/newtmpl/getpubtemplatetitles", query: withToken("ids", "2,616", "start", "0", "limit", "1"),
			want: wechat.PubTemplateTitles{Count: 55, Data: []wechat.PubTemplateTitle{
				{TID: "99", Title: "付款成功通知", Type: wechat.TemplateTypeOneTime, CategoryID: "616"},
				{TID: "100", Title: "t", Type: wechat.TemplateTypeLongTerm, CategoryID: "2"},
			}},
			wantClass: wechat.ClassToken,
		},
		{
			name: "SubscribePubTemplateKeywords",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return c.SubscribePubTemplateKeywords(ctx, testToken, "99")
			},
			answer: `{"errcode":0,"errmsg":"ok","count":1,"data":[{"kid":1,"name":"物品名称","example":"名称","rule":"thing"}]}`,
			method: "GET", path: "/wxaapi/newtmpl/getpubtemplatekeywords", query: withToken("tid", "99"),
			want:      []wechat.PubTemplateKeyword{{KID: 1, Name: "物品名称", Example: "名称", Rule: "thing"}},
			wantClass: wechat.ClassToken,
		},
		{
			name: "SubscribeTemplateAdd",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return c.SubscribeTemplateAdd(ctx, testToken, "401", []int{1, 2}, "测试数据")
			},
			answer: `{"errmsg":"ok","errcode":0,"priTmplId":"9Aw5ZV1j9xdWTFEkqCpZ7jWySL7aGN6rQom4gXINfJs"}`,
			method: "POST", path: "/wxaapi/newtmpl/addtemplate", query: tokenQ, ct: "application/x-www-form-urlencoded",
			body: "tid=401&kidList=1&kidList=2&sceneDesc=%E6%B5%8B%E8%AF%95%E6%95%B0%E6%8D%AE",
			want: "9Aw5ZV1j9xdWTFEkqCpZ7jWySL7aGN6rQom4gXINfJs", wantClass: wechat.ClassToken,
		},
		{
			name: "SubscribeTemplateDelete",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return nil, c.SubscribeTemplateDelete(ctx, testToken, "wDYzYZVxobJivW9oMpSCpuvACOfJXQIoKUm0PY397Tc")
			},
			answer: `{"errmsg":"ok","errcode":0}`,
			method: "POST", path: "/wxaapi/newtmpl/deltemplate", query: tokenQ, ct: "application/json",
			body: `{"priTmplId":"wDYzYZVxobJivW9oMpSCpuvACOfJXQIoKUm0PY397Tc"}`,
			want: nil, wantClass: wechat.ClassToken,
		},
		{
			name: "SubscribeTemplateList",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return c.SubscribeTemplateList(ctx, testToken)
			},
			answer: `{"errcode":0,"errmsg":"ok","data":[` +
				`{"priTmplId":"9Aw5","title":"报名结果通知","content":"会议时间:{{date2.DATA}}\n会议地点:{{thing1.DATA}}\n","example":"会议时间:2016年8月8日\n会议地点:TIT会议室\n","type":2},` +
				`{"priTmplId":"cy_D","title":"洗衣机故障提醒","content":"所在位置:{{enum_string2.DATA}}\n","example":"x","type":3,` +
				`"keywordEnumValueList":[{"keywordCode":"enum_string2.DATA","enumValueList":["客厅","卧室"]}]}]}`,
			method: "GET", path: "/wxaapi/newtmpl/gettemplate", query: tokenQ,
			want: []wechat.Template{
				{PriTmplID: "9Aw5", Title: "报名结果通知", Content: "会议时间:{{date2.DATA}}\n会议地点:{{thing1.DATA}}\n", Example: "会议时间:2016年8月8日\n会议地点:TIT会议室\n", Type: 2},
				{PriTmplID: "cy_D", Title: "洗衣机故障提醒", Content: "所在位置:{{enum_string2.DATA}}\n", Example: "x", Type: 3,
					KeywordEnumValueList: []wechat.KeywordEnumValue{{KeywordCode: "enum_string2.DATA", EnumValueList: []string{"客厅", "卧室"}}}},
			},
			wantClass: wechat.ClassToken,
		},
		{
			name: "TemplateLibraryList",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return c.TemplateLibraryList(ctx, testToken, 0, 5)
			},
			answer: `{"errcode":0,"errmsg":"ok","list":[{"id":"AT0002","title":"购买成功通知"},{"id":"AT0003","title":"购买失败通知"}],"total_count":599}`,
			method: "POST", path: "/cgi-bin/wxopen/template/library/list", query: tokenQ, ct: "application/json",
			body:      `{"offset":0,"count":5}`,
			want:      wechat.LibraryTitles{TotalCount: 599, List: []wechat.LibraryTitle{{ID: "AT0002", Title: "购买成功通知"}, {ID: "AT0003", Title: "购买失败通知"}}},
			wantClass: wechat.ClassToken,
		},
		{
			name: "TemplateLibraryGet",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return c.TemplateLibraryGet(ctx, testToken, "AT0002")
			},
			answer: `{"errcode":0,"errmsg":"ok","id":"AT0002","title":"购买成功通知","keyword_list":[{"keyword_id":3,"name":"购买地点","example":"TIT造舰厂"},{"keyword_id":"4","name":"购买时间","example":"2016年6月6日"}]}`,
			method: "POST", path: "/cgi-bin/wxopen/template/library/get", query: tokenQ, ct: "application/json",
			body: `{"id":"AT0002"}`,
			want: wechat.LibraryTemplate{ID: "AT0002", Title: "购买成功通知", KeywordList: []wechat.LibraryKeyword{
				{KeywordID: 3, Name: "购买地点", Example: "TIT造舰厂"}, {KeywordID: 4, Name: "购买时间", Example: "2016年6月6日"},
			}},
			wantClass: wechat.ClassToken,
		},
		{
			name: "TemplateAdd",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return c.TemplateAdd(ctx, testToken, "AT0002", []int{3, 4, 5})
			},
			answer: `{"errcode":0,"errmsg":"ok","template_id":"wDYzYZVxobJivW9oMpSCpuvACOfJXQIoKUm0PY397Tc"}`,
			method: "POST", path: "/cgi-bin/wxopen/template/add", query: tokenQ, ct: "application/json",
			body: `{"id":"AT0002","keyword_id_list":[3,4,5]}`,
			want: "wDYzYZVxobJivW9oMpSCpuvACOfJXQIoKUm0PY397Tc", wantClass: wechat.ClassToken,
		},
		{
			name: "TemplateList",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return c.TemplateList(ctx, testToken, 0, 1)
			},
			answer: `{"errcode":0,"errmsg":"ok","list":[{"template_id":"wDYz","title":"购买成功通知","content":"购买地点{{keyword1.DATA}}\n","example":"购买地点:TIT造舰厂\n"}]}`,
			method: "POST", path: "/cgi-bin/wxopen/template/list", query: tokenQ, ct: "application/json",
			body:      `{"offset":0,"count":1}`,
			want:      []wechat.LegacyTemplate{{TemplateID: "wDYz", Title: "购买成功通知", Content: "购买地点{{keyword1.DATA}}\n", Example: "购买地点:TIT造舰厂\n"}},
			wantClass: wechat.ClassToken,
		},
		{
			name: "TemplateDelete",
			call: func(ctx context.Context, c *wechat.Client) (any, error) {
				return nil, c.TemplateDelete(ctx, testToken, "wDYzYZVxobJivW9oMpSCpuvACOfJXQIoKUm0PY397Tc")
			},
			answer: `{"errcode":0,"errmsg":"ok"}`,
			method: "POST", path: "/cgi-bin/wxopen/template/del", query: tokenQ, ct: "application/json",
			body: `{"template_id":"wDYzYZVxobJivW9oMpSCpuvACOfJXQIoKUm0PY397Tc"}`,
			want: nil, wantClass: wechat.ClassToken,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, f := newFixture(t)
			f.respond(http.StatusOK, "application/json", tt.answer)
			got, err := tt.call(context.Background(), c)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
			r := f.last(t)
			if r.Method != tt.method || r.Path != tt.path {
				t.Fatalf("request %s %s, want %s %s", r.Method, r.Path, tt.method, tt.path)
			}
			if !reflect.DeepEqual(r.Query, tt.query) {
				t.Fatalf("query %v, want %v", r.Query, tt.query)
			}
			if r.ContentType != tt.ct {
				t.Fatalf("Content-Type %q, want %q", r.ContentType, tt.ct)
			}
			if r.Body != tt.body {
				t.Fatalf("body\n%s\nwant\n%s", r.Body, tt.body)
			}

			// The same endpoint answering 40001 classifies per endpoint.
			f.respond(http.StatusOK, "application/json", `{"errcode":40001,"errmsg":"invalid credential, access_token is invalid or not latest rid: 5f7184ff-5448020d-6384be15"}`)
			_, err = tt.call(context.Background(), c)
			var we *wechat.Error
			if !errors.As(err, &we) {
				t.Fatalf("err = %v, want *wechat.Error", err)
			}
			if we.ErrCode != 40001 || we.RID != "5f7184ff-5448020d-6384be15" || we.Endpoint != tt.path {
				t.Fatalf("error = %+v", we)
			}
			if got := wechat.ClassOf(err); got != tt.wantClass {
				t.Fatalf("ClassOf(40001) = %v, want %v", got, tt.wantClass)
			}
		})
	}
}

// TestSendSubscribe_Errcodes checks the class of every listed errcode as
// returned by the hot path.
func TestSendSubscribe_Errcodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code int
		want wechat.Class
	}{
		{-1, wechat.ClassRetry},
		{45011, wechat.ClassThrottle},
		{40001, wechat.ClassToken},
		{40014, wechat.ClassToken},
		{41001, wechat.ClassToken},
		{42001, wechat.ClassToken},
		{43101, wechat.ClassCredit},
		{41028, wechat.ClassCredit},
		{41029, wechat.ClassCredit},
		{45009, wechat.ClassQuota},
		{40003, wechat.ClassPermanent},
		{40037, wechat.ClassPermanent},
		{47003, wechat.ClassPermanent},
		{41030, wechat.ClassPermanent},
		{48001, wechat.ClassPermanent},
		{40243, wechat.ClassPermanent},
		{40002, wechat.ClassPermanent},
		{40066, wechat.ClassPermanent},
		{41002, wechat.ClassPermanent},
		{41004, wechat.ClassPermanent},
		{41008, wechat.ClassPermanent},
		{43002, wechat.ClassPermanent},
		{44002, wechat.ClassPermanent},
		{47001, wechat.ClassPermanent},
		{99999, wechat.ClassPermanent}, // unknown
	}
	c, f := newFixture(t)
	for _, tt := range tests {
		f.respond(http.StatusOK, "text/plain", `{"errcode":`+strconv.Itoa(tt.code)+`,"errmsg":"some error rid: 6472dfd0-536f4e2c-16f28abc"}`)
		_, err := c.SendSubscribe(context.Background(), testToken, &wechat.SubscribeMessage{ToUser: "o", TemplateID: "t"})
		if got := wechat.ClassOf(err); got != tt.want {
			t.Errorf("errcode %d: class %v, want %v (err %v)", tt.code, got, tt.want, err)
		}
		var we *wechat.Error
		if !errors.As(err, &we) || we.Class() != tt.want || we.ErrCode != tt.code {
			t.Errorf("errcode %d: err = %#v", tt.code, err)
		}
	}
}

func TestParseRID(t *testing.T) {
	t.Parallel()
	c, f := newFixture(t)
	for msg, want := range map[string]string{
		"invalid openid rid: 61b0437c-57de737e-47cbfd49":             "61b0437c-57de737e-47cbfd49",
		"invalid openid rid:67284156-220d1c15-79531e19":              "67284156-220d1c15-79531e19",
		"invalid code, rid: 652d44d0-1d0af18b-5b069232":              "652d44d0-1d0af18b-5b069232",
		"user refuse to accept the msg rid: ":                        "",
		"argument invalid! hint: [m29Nha0946shc1] data.thing1.value": "",
		"system error": "",
	} {
		f.respond(http.StatusOK, "application/json", `{"errcode":-1,"errmsg":"`+msg+`"}`)
		_, err := c.SendSubscribe(context.Background(), testToken, &wechat.SubscribeMessage{})
		var we *wechat.Error
		if !errors.As(err, &we) {
			t.Fatalf("err = %v", err)
		}
		if we.RID != want || we.ErrMsg != msg {
			t.Errorf("errmsg %q: RID %q, ErrMsg %q; want RID %q", msg, we.RID, we.ErrMsg, want)
		}
	}
}

// TestMsgIDAbove2to53 checks that msgids beyond float64's exact range come
// back digit for digit.
func TestMsgIDAbove2to53(t *testing.T) {
	t.Parallel()
	c, f := newFixture(t)
	for _, id := range []string{"9007199254740993", "2367374098364457001", "1988810812324364291", "18446744073709551615"} {
		for _, answer := range []string{
			`{"errcode":0,"errmsg":"ok","msgid":` + id + `}`,
			`{"errcode":0,"errmsg":"ok","msgid":"` + id + `"}`,
			`{"msgid":` + id + `}`, // errcode absent on success
		} {
			f.respond(http.StatusOK, "application/json", answer)
			got, err := c.SendSubscribe(context.Background(), testToken, &wechat.SubscribeMessage{})
			if err != nil || got != id {
				t.Errorf("answer %s: got %q, %v; want %q", answer, got, err, id)
			}
		}
	}
	f.respond(http.StatusOK, "application/json", `{"errcode":0,"errmsg":"ok","msgid":1.5e20}`)
	_, err := c.SendSubscribe(context.Background(), testToken, &wechat.SubscribeMessage{})
	if got := wechat.ClassOf(err); got != wechat.ClassRetry {
		t.Fatalf("non-integer msgid: err %v, class %v; want a *DecodeError", err, got)
	}
}

// TestContentTypeIgnored checks that JSON is decoded whatever its label.
func TestContentTypeIgnored(t *testing.T) {
	t.Parallel()
	c, f := newFixture(t)
	for _, ct := range []string{"text/plain", "text/html; charset=utf-8", "application/octet-stream", ""} {
		f.respond(http.StatusOK, ct, "\n  {\"access_token\":\""+testToken+"\",\"expires_in\":7200}\n")
		tok, err := c.GetAccessToken(context.Background(), testAppID, testSecret)
		if err != nil || tok.Token != testToken {
			t.Errorf("Content-Type %q: %v, %v", ct, tok, err)
		}
	}
}

// TestErrorClasses checks every kind of failure that is not an errcode.
func TestErrorClasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		ct     string
		body   string
		want   wechat.Class
		check  func(t *testing.T, err error)
	}{
		{"HTML502", 502, "text/html", "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", wechat.ClassRetry, func(t *testing.T, err error) {
			var se *wechat.StatusError
			if !errors.As(err, &se) || se.StatusCode != 502 {
				t.Fatalf("err = %#v, want *StatusError 502", err)
			}
		}},
		{"JSON503", 503, "application/json", `{"errcode":-1,"errmsg":"system error"}`, wechat.ClassRetry, nil},
		{"429", 429, "text/plain", "slow down", wechat.ClassRetry, nil},
		{"404", 404, "text/html", "<html>not found</html>", wechat.ClassPermanent, nil},
		{"NotJSON200", 200, "text/html", "<html>captive portal</html>", wechat.ClassRetry, func(t *testing.T, err error) {
			var de *wechat.DecodeError
			if !errors.As(err, &de) || de.Endpoint != "/cgi-bin/message/subscribe/send" {
				t.Fatalf("err = %#v, want *DecodeError", err)
			}
		}},
		{"Empty200", 200, "application/json", "", wechat.ClassRetry, nil},
		{"Truncated200", 200, "application/json", `{"errcode":0,"errmsg":"ok","msgid":123`, wechat.ClassRetry, nil},
		{"TooLarge", 200, "application/json", `{"errmsg":"` + strings.Repeat("x", wechat.MaxBodySize) + `"}`, wechat.ClassRetry, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, f := newFixture(t)
			f.respond(tt.status, tt.ct, tt.body)
			_, err := c.SendSubscribe(context.Background(), testToken, &wechat.SubscribeMessage{ToUser: "o", TemplateID: "t"})
			if err == nil {
				t.Fatal("err = nil")
			}
			if got := wechat.ClassOf(err); got != tt.want {
				t.Fatalf("class %v, want %v (err %v)", got, tt.want, err)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

// TestMissingFields checks that a success answer without the field that
// defines success is a *DecodeError, not a zero value.
func TestMissingFields(t *testing.T) {
	t.Parallel()
	c, f := newFixture(t)
	f.respond(http.StatusOK, "application/json", `{"errcode":0,"errmsg":"ok"}`)
	ctx := context.Background()
	var de *wechat.DecodeError
	if _, err := c.GetAccessToken(ctx, testAppID, testSecret); !errors.As(err, &de) {
		t.Errorf("GetAccessToken: %v", err)
	}
	if _, err := c.GetStableAccessToken(ctx, testAppID, testSecret, false); !errors.As(err, &de) {
		t.Errorf("GetStableAccessToken: %v", err)
	}
	if _, err := c.Code2Session(ctx, testAppID, testSecret, testJSCode); !errors.As(err, &de) {
		t.Errorf("Code2Session: %v", err)
	}
	if _, err := c.SubscribeTemplateAdd(ctx, testToken, "1", []int{1, 2}, ""); !errors.As(err, &de) {
		t.Errorf("SubscribeTemplateAdd: %v", err)
	}
	if _, err := c.TemplateAdd(ctx, testToken, "AT0002", nil); !errors.As(err, &de) {
		t.Errorf("TemplateAdd: %v", err)
	}
}

// TestNetworkErrors checks failures below HTTP: a closed port, a reset
// connection, a timeout, and a canceled context.
func TestNetworkErrors(t *testing.T) {
	t.Parallel()

	t.Run("ClosedPort", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL
		srv.Close()
		c := wechat.New(wechat.Options{BaseURL: base})
		_, err := c.SendSubscribe(context.Background(), testToken, &wechat.SubscribeMessage{})
		var ne *wechat.NetError
		if !errors.As(err, &ne) || ne.Endpoint != "/cgi-bin/message/subscribe/send" || ne.Op != "POST" {
			t.Fatalf("err = %#v, want *NetError", err)
		}
		if got := wechat.ClassOf(err); got != wechat.ClassRetry {
			t.Fatalf("class %v", got)
		}
	})

	t.Run("Reset", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}))
		t.Cleanup(srv.Close)
		c := wechat.New(wechat.Options{BaseURL: srv.URL})
		_, err := c.GetAccessToken(context.Background(), testAppID, testSecret)
		if got := wechat.ClassOf(err); got != wechat.ClassRetry {
			t.Fatalf("err %v, class %v", err, got)
		}
	})

	t.Run("Timeout", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		c := wechat.New(wechat.Options{BaseURL: srv.URL, Timeout: time.Millisecond})
		_, err := c.SendSubscribe(context.Background(), testToken, &wechat.SubscribeMessage{})
		var ne *wechat.NetError
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("err = %#v, want a timeout *NetError", err)
		}
		if got := wechat.ClassOf(err); got != wechat.ClassRetry {
			t.Fatalf("class %v", got)
		}
	})

	t.Run("Canceled", func(t *testing.T) {
		t.Parallel()
		arrived := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // the server notices a closed connection only after the body
			close(arrived)
			<-r.Context().Done()
		}))
		t.Cleanup(srv.Close)
		c := wechat.New(wechat.Options{BaseURL: srv.URL, Timeout: -1})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-arrived
			cancel()
		}()
		_, err := c.SendSubscribe(ctx, testToken, &wechat.SubscribeMessage{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if got := wechat.ClassOf(err); got != wechat.ClassRetry {
			t.Fatalf("class %v", got)
		}
	})
}

func TestClassOf(t *testing.T) {
	t.Parallel()
	if got := wechat.ClassOf(nil); got != "" {
		t.Errorf("ClassOf(nil) = %q", got)
	}
	if got := wechat.ClassOf(errors.New("other")); got != wechat.ClassPermanent {
		t.Errorf("ClassOf(other) = %q", got)
	}
	if got := wechat.ClassOf(context.DeadlineExceeded); got != wechat.ClassRetry {
		t.Errorf("ClassOf(DeadlineExceeded) = %q", got)
	}
	wrapped := errors.Join(errors.New("send"), &wechat.Error{ErrCode: 45009, Endpoint: "/cgi-bin/message/subscribe/send"})
	if got := wechat.ClassOf(wrapped); got != wechat.ClassQuota {
		t.Errorf("ClassOf(wrapped 45009) = %q", got)
	}
	if got := wechat.ClassRetry.String(); got != "retry" {
		t.Errorf("String() = %q", got)
	}
}

// TestNoRedirect checks that a redirect is not followed, so the query with
// the access_token is never sent to another host.
func TestNoRedirect(t *testing.T) {
	t.Parallel()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("redirect followed to %s", r.URL)
	}))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	c := wechat.New(wechat.Options{BaseURL: srv.URL + "/"})
	_, err := c.SendSubscribe(context.Background(), testToken, &wechat.SubscribeMessage{})
	var se *wechat.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusFound {
		t.Fatalf("err = %v, want *StatusError 302", err)
	}
}
