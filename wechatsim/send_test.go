package wechatsim_test

import (
	"encoding/json"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/wechatsim"
)

func TestSubscribeSend(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		tb.sim.GrantSubscribe(appID, "oUser", tb.tpl, 1)
		body := `{"touser":"oUser","template_id":"` + tb.tpl + `","page":"pages/index/index?id=1","miniprogram_state":"trial","lang":"en_US","data":{"thing1":{"value":"无线耳机"},"time2":{"value":"2019年10月1日 15:01"},"extra9":{"value":"ignored"}}}`
		rec := call(t, tb.sim, "POST", sendPath(tb.token), body)
		if got := rec.Header().Get("Content-Type"); got != "application/json; encoding=utf-8" {
			t.Fatalf("Content-Type=%q", got)
		}
		// msgid must be a bare JSON number above 2^53.
		var raw map[string]json.RawMessage
		decode(t, rec, &raw)
		id, ok := new(big.Int).SetString(string(raw["msgid"]), 10)
		if !ok || id.Cmp(new(big.Int).Lsh(big.NewInt(1), 53)) <= 0 {
			t.Fatalf("msgid %s is not a number above 2^53 (%s)", raw["msgid"], rec.Body)
		}
		if string(raw["errcode"]) != "0" || string(raw["errmsg"]) != `"ok"` {
			t.Fatalf("body %s", rec.Body)
		}
		inbox := tb.sim.Inbox(appID, "oUser")
		if len(inbox) != 1 {
			t.Fatalf("inbox %+v", inbox)
		}
		d := inbox[0]
		if d.Kind != "subscribe" || d.MsgID != id.Uint64() || d.TemplateID != tb.tpl || d.Data["thing1"] != "无线耳机" ||
			d.State != "trial" || d.Lang != "en_US" || d.Page != "pages/index/index?id=1" || !d.At.Equal(d.At) {
			t.Fatalf("delivered %+v", d)
		}
		if _, ok := d.Data["extra9"]; ok {
			t.Fatal("recorded a key the template lacks")
		}
		if got := tb.sim.Grants(appID, "oUser", tb.tpl); got != 0 {
			t.Fatalf("grants left %d, want 0", got)
		}
		if code, msg := errcode(t, tb.sim, "POST", sendPath(tb.token), body); code != 43101 || !contains(msg, "user refuse to accept the msg") {
			t.Fatalf("second send: %d %s, want 43101", code, msg)
		}
		if n := tb.sim.DeliveredCount(appID); n != 1 {
			t.Fatalf("DeliveredCount=%d", n)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, wechatsim.App{AppID: appID, Secret: secret, Pages: []string{"pages/index/index"}})
		tb.sim.GrantSubscribe(appID, "oU", tb.tpl, 100)
		good := func(mod func(m map[string]any)) string {
			m := map[string]any{"touser": "oU", "template_id": tb.tpl, "page": "pages/index/index",
				"data": map[string]any{"thing1": map[string]string{"value": "ok"}, "time2": map[string]string{"value": "15:01"}}}
			mod(m)
			b, _ := json.Marshal(m)
			return string(b)
		}
		for _, tt := range []struct {
			name    string
			path    string
			body    string
			want    int
			wantMsg string
		}{
			{"TokenMissing", "/cgi-bin/message/subscribe/send", good(func(map[string]any) {}), 41001, "access_token missing"},
			{"TokenInvalid", sendPath("nope"), good(func(map[string]any) {}), 40001, "invalid credential"},
			{"Malformed", sendPath(tb.token), `{"touser":`, 47001, "data format error"},
			{"ValueNotString", sendPath(tb.token), good(func(m map[string]any) { m["data"] = map[string]any{"thing1": map[string]bool{"value": true}} }), 47001, ""},
			{"NoTouser", sendPath(tb.token), good(func(m map[string]any) { m["touser"] = "" }), 40003, "invalid openid"},
			{"UnknownTemplate", sendPath(tb.token), good(func(m map[string]any) { m["template_id"] = "nope" }), 40037, "invalid template_id"},
			{"BadPage", sendPath(tb.token), good(func(m map[string]any) { m["page"] = "pages/other/other" }), 41030, "invalid page"},
			{"BadState", sendPath(tb.token), good(func(m map[string]any) { m["miniprogram_state"] = "beta" }), 47003, "miniprogram_state"},
			{"BadLang", sendPath(tb.token), good(func(m map[string]any) { m["lang"] = "fr_FR" }), 47003, "lang"},
			{"MissingKeyword", sendPath(tb.token), good(func(m map[string]any) {
				m["data"] = map[string]any{"time2": map[string]string{"value": "15:01"}}
			}), 47003, "argument invalid! data.thing1.value is emtpy"},
			{"InvalidKeyword", sendPath(tb.token), good(func(m map[string]any) {
				m["data"] = map[string]any{"thing1": map[string]string{"value": "一二三四五六七八九十一二三四五六七八九十一"}, "time2": map[string]string{"value": "15:01"}}
			}), 47003, "argument invalid! data.thing1.value invalid"},
			{"InvalidTime", sendPath(tb.token), good(func(m map[string]any) {
				m["data"] = map[string]any{"thing1": map[string]string{"value": "x"}, "time2": map[string]string{"value": "25:00"}}
			}), 47003, "data.time2.value invalid"},
		} {
			code, msg := errcode(t, tb.sim, "POST", tt.path, tt.body)
			if code != tt.want || !contains(msg, tt.wantMsg) {
				t.Errorf("%s: %d %q, want %d %q", tt.name, code, msg, tt.want, tt.wantMsg)
			}
		}
		if got := tb.sim.Grants(appID, "oU", tb.tpl); got != 100 {
			t.Fatalf("failed sends consumed grants: %d left", got)
		}
		if n := len(tb.sim.Inbox(appID, "oU")); n != 0 {
			t.Fatalf("failed sends delivered %d", n)
		}
		// The page check ignores a leading slash and the query.
		if code, _ := errcode(t, tb.sim, "POST", sendPath(tb.token), good(func(m map[string]any) { m["page"] = "/pages/index/index?x=1" })); code != 0 {
			t.Fatalf("allowed page with query: %d", code)
		}
	})

	t.Run("DailyQuota", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, wechatsim.App{AppID: appID, Secret: secret, DailySendQuota: 2})
		tb.sim.GrantSubscribe(appID, "oU", tb.tpl, 10)
		now := tb.sim.Now().In(time.FixedZone("CST", 8*3600))
		tb.sim.Advance(time.Date(now.Year(), now.Month(), now.Day()+1, 1, 0, 0, 0, now.Location()).Sub(now))
		tb.token = mustToken(t, tb.sim, appID, secret)
		body := sendBody("oU", tb.tpl, "thing1", "x", "time2", "15:01")
		for i := range 2 {
			if code, _ := errcode(t, tb.sim, "POST", sendPath(tb.token), body); code != 0 {
				t.Fatalf("send %d: %d", i, code)
			}
		}
		if code, _ := errcode(t, tb.sim, "POST", sendPath(tb.token), body); code != 45009 {
			t.Fatalf("over quota: %d, want 45009", code)
		}
		tb.sim.Advance(24 * time.Hour)
		tb.token = mustToken(t, tb.sim, appID, secret)
		if code, _ := errcode(t, tb.sim, "POST", sendPath(tb.token), body); code != 0 {
			t.Fatalf("next day: %d", code)
		}
	})

	t.Run("ConcurrentSameOpenID", func(t *testing.T) {
		// Two sends to one openid at once: the second is 43108 while the
		// first is in flight (held here by the simulator's latency).
		t.Parallel()
		tb := setup(t)
		tb.sim.GrantSubscribe(appID, "oSAME", tb.tpl, 2)
		tb.sim.SetLatency(time.Second, 0)
		body := sendBody("oSAME", tb.tpl, "thing1", "x", "time2", "15:01")
		codes := make(chan int, 2)
		send := func() { code, _ := errcode(t, tb.sim, "POST", sendPath(tb.token), body); codes <- code }
		go send()
		for tb.sim.Calls(wechatsim.PathSubscribeSend, appID) == 0 { // the first is in its latency
			time.Sleep(time.Millisecond)
		}
		go send()
		got := []int{<-codes, <-codes}
		slices.Sort(got)
		if got[0] != 0 || got[1] != 43108 || tb.sim.Overlaps(appID) != 1 {
			t.Fatalf("codes %v, overlaps %d; want [0 43108] and 1", got, tb.sim.Overlaps(appID))
		}
		tb.sim.SetLatency(0, 0)
		if code, _ := errcode(t, tb.sim, "POST", sendPath(tb.token), body); code != 0 {
			t.Fatalf("send after the first ended: %d", code)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		const users, per = 8, 25
		for u := range users {
			tb.sim.GrantSubscribe(appID, "o"+string(rune('A'+u)), tb.tpl, per)
		}
		// Users in parallel, each user's sends one after another (WeChat
		// answers 43108 to concurrent sends for one openid).
		var wg sync.WaitGroup
		for u := range users {
			wg.Go(func() {
				for range 2 * per { // twice as many sends as grants: half must be 43101
					call(t, tb.sim, "POST", sendPath(tb.token), sendBody("o"+string(rune('A'+u)), tb.tpl, "thing1", "x", "time2", "15:01"))
				}
			})
		}
		wg.Wait()
		if got, want := tb.sim.DeliveredCount(appID), int64(users*per); got != want {
			t.Fatalf("delivered %d, want %d", got, want)
		}
		all := tb.sim.AllDelivered(appID)
		if len(all) != users*per {
			t.Fatalf("AllDelivered %d", len(all))
		}
		seen := map[uint64]bool{}
		for _, d := range all {
			if seen[d.MsgID] {
				t.Fatalf("duplicate msgid %d", d.MsgID)
			}
			seen[d.MsgID] = true
		}
	})

	t.Run("InboxLimit", func(t *testing.T) {
		t.Parallel()
		sim := wechatsim.New(wechatsim.Options{InboxLimit: 3})
		sim.AddApp(wechatsim.App{AppID: appID, Secret: secret})
		tok := mustToken(t, sim, appID, secret)
		tpl := sim.AddTemplateDirect(appID, "t", wechatsim.Keyword{Key: "thing1", Name: "n"})
		sim.GrantSubscribe(appID, "oU", tpl, 5)
		for _, v := range []string{"a", "b", "c", "d", "e"} {
			if code, _ := errcode(t, sim, "POST", sendPath(tok), sendBody("oU", tpl, "thing1", v)); code != 0 {
				t.Fatal(code)
			}
		}
		inbox := sim.Inbox(appID, "oU")
		if len(inbox) != 3 || inbox[0].Data["thing1"] != "c" || inbox[2].Data["thing1"] != "e" {
			t.Fatalf("inbox %+v", inbox)
		}
		if sim.DeliveredCount(appID) != 5 {
			t.Fatal("count")
		}
	})
}

func TestRules(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		rule  string
		valid []string
		bad   []string
	}{
		{"thing", []string{"无线耳机", "Order shipped", "一二三四五六七八九十一二三四五六七八九十"}, []string{"", "一二三四五六七八九十一二三四五六七八九十一"}},
		{"number", []string{"100", "3.14", "00012345678901234567890123456789"}, []string{"", "1a", "1.", ".5", "1.2.3", "-1", "123456789012345678901234567890123"}},
		{"letter", []string{"abc", "ABCxyz"}, []string{"", "abc1", "中文", "a b"}},
		{"symbol", []string{"#", "★", "-+*/%"}, []string{"", "a", "######", "1"}},
		{"character_string", []string{"SO2019-001", "A1B2_C3#", "12345678901234567890123456789012"}, []string{"", "中文", "a b", "123456789012345678901234567890123"}},
		{"time", []string{"15:01", "9:05", "2019年10月1日 15:01", "2019-10-01 15:01:05", "15:01~16:00", "2020-08-17 20:33:09"}, []string{"", "25:00", "15:60", "2019年10月1日", "tomorrow", "15:01~"}},
		{"date", []string{"2019年10月1日", "2019-10-01", "2019/10/01 15:01", "2019-10-01~2019-10-07", "2019-10-12 11:00:00"}, []string{"", "15:01", "2019-13-01", "2019年10月", "2019-10-01 xx", "10月1日"}},
		{"amount", []string{"¥214.00", "30", "30元", "$1.5", "1234567890"}, []string{"", "12345678901", "¥", "abc", "1.2.3元"}},
		{"phone_number", []string{"+86-0766-66888866", "13800138000", "(020)12345678"}, []string{"", "tel123", "123456789012345678", "+-"}},
		{"car_number", []string{"粤A8Z888挂", "粤B12345", "AB1234", "粤"}, []string{"", "粤A8Z888挂12", "粤A-8Z88", "A粤1234"}},
		{"name", []string{"张三", "欧阳娜娜", "John Smith", "李Lee", "阿·布"}, []string{"", "一二三四五六七八九十一", "ABCDEFGHIJKLMNOPQRSTU", "John3", "12"}},
		{"phrase", []string{"配送中", "已通过", "一二三四五"}, []string{"", "一二三四五六", "ok", "配送 中"}},
	} {
		for _, v := range tt.valid {
			if !wechatsim.ValidValue(tt.rule, v) {
				t.Errorf("%s %q: invalid, want valid", tt.rule, v)
			}
		}
		for _, v := range tt.bad {
			if wechatsim.ValidValue(tt.rule, v) {
				t.Errorf("%s %q: valid, want invalid", tt.rule, v)
			}
		}
	}
	if got := wechatsim.RuleOf("character_string12"); got != "character_string" {
		t.Fatalf("RuleOf=%q", got)
	}
}

func TestTemplateSend(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tpl := tb.sim.AddLegacyTemplateDirect(appID, "购买成功通知", "物品名称", "购买时间")
	path := "/cgi-bin/message/wxopen/template/send?access_token=" + tb.token
	body := func(to, form, template string) string {
		b, _ := json.Marshal(map[string]any{"touser": to, "template_id": template, "page": "pages/index/index", "form_id": form,
			"data":             map[string]any{"keyword1": map[string]string{"value": "咖啡"}, "keyword2": map[string]string{"value": "2016年6月6日"}},
			"emphasis_keyword": "keyword1.DATA"})
		return string(b)
	}
	form := tb.sim.MintFormID(appID, "oA")
	prepay := tb.sim.MintPrepayID(appID, "oA")
	expiring := tb.sim.MintFormID(appID, "oA")
	tb.sim.MintLoginCode(appID, "oB") // oB uses the app too: an unknown openid would be 40003
	for _, tt := range []struct {
		name string
		body string
		want int
	}{
		{"OK", body("oA", form, tpl), 0},
		{"Used", body("oA", form, tpl), 41029},
		{"OtherUser", body("oB", prepay, tpl), 41028},
		{"Mock", body("oA", "the formId is a mock one", tpl), 41028},
		{"Unknown", body("oA", "123", tpl), 41028},
		{"Empty", body("oA", "", tpl), 41028},
		{"SubscribeTemplate", body("oA", prepay, tb.tpl), 40037},
		{"Prepay1", body("oA", prepay, tpl), 0},
		{"Prepay2", body("oA", prepay, tpl), 0},
		{"Prepay3", body("oA", prepay, tpl), 0},
		{"Prepay4", body("oA", prepay, tpl), 41029},
		{"Malformed", "{", 47001},
		{"NoTouser", body("", prepay, tpl), 40003},
	} {
		if code, msg := errcode(t, tb.sim, "POST", path, tt.body); code != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, code, msg, tt.want)
		}
	}
	tb.sim.Advance(7*24*time.Hour + time.Second)
	tb.token = mustToken(t, tb.sim, appID, secret)
	path = "/cgi-bin/message/wxopen/template/send?access_token=" + tb.token
	if code, _ := errcode(t, tb.sim, "POST", path, body("oA", expiring, tpl)); code != 41028 {
		t.Fatalf("expired form_id: %d, want 41028", code)
	}
	inbox := tb.sim.Inbox(appID, "oA")
	if len(inbox) != 4 || inbox[0].Kind != "template" || inbox[0].FormID != form || inbox[0].Data["keyword1"] != "咖啡" || inbox[0].EmphasisKeyword != "keyword1.DATA" {
		t.Fatalf("inbox %+v", inbox)
	}
}

func TestCode2Session(t *testing.T) {
	t.Parallel()
	sim := wechatsim.New(wechatsim.Options{})
	sim.AddApp(wechatsim.App{AppID: appID, Secret: secret, UnionID: true})
	sim.AddApp(wechatsim.App{AppID: "wx2", Secret: "s2"})
	u := func(appid, sec, code string) string {
		return "/sns/jscode2session?appid=" + appid + "&secret=" + sec + "&js_code=" + code + "&grant_type=authorization_code"
	}
	code := sim.MintLoginCode(appID, "oLogin")
	rec := call(t, sim, "GET", u(appID, secret, code), "")
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain" {
		t.Fatalf("Content-Type=%q", ct)
	}
	var r struct {
		OpenID string `json:"openid"`
		SK     string `json:"session_key"`
		UID    string `json:"unionid"`
	}
	decode(t, rec, &r)
	if r.OpenID != "oLogin" || r.SK == "" || r.UID == "" {
		t.Fatalf("response %s", rec.Body)
	}
	for _, tt := range []struct {
		name, target string
		want         int
	}{
		{"Used", u(appID, secret, code), 40163},
		{"Unknown", u(appID, secret, "nope"), 40029},
		{"Missing", u(appID, secret, ""), 41008},
		{"WrongSecret", u(appID, "bad", sim.MintLoginCode(appID, "o")), 40125},
		{"WrongApp", u("wxnope", secret, "x"), 40013},
		{"OtherAppsCode", u("wx2", "s2", sim.MintLoginCode(appID, "o")), 40029},
		{"GrantType", "/sns/jscode2session?appid=" + appID + "&secret=" + secret + "&js_code=x", 40002},
	} {
		if c, msg := errcode(t, sim, "GET", tt.target, ""); c != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, c, msg, tt.want)
		}
	}
	late := sim.MintLoginCode(appID, "o")
	sim.Advance(5*time.Minute + time.Second)
	if c, _ := errcode(t, sim, "GET", u(appID, secret, late), ""); c != 40029 {
		t.Fatalf("expired code: %d, want 40029", c)
	}
	code2 := sim.MintLoginCode("wx2", "o2")
	rec = call(t, sim, "GET", u("wx2", "s2", code2), "")
	if contains(rec.Body.String(), "unionid") {
		t.Fatalf("unionid for an app without UnionID: %s", rec.Body)
	}
}
