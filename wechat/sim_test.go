package wechat_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/wechat"
	"github.com/wxnotify/wxnotify/wechatsim"
)

// These tests run the client against the project's WeChat simulator, an
// independent reading of the same reference: every endpoint once with
// success, and each error class at least once.

const simPage = "pages/index/index"

type simBundle struct {
	sim   *wechatsim.Server
	c     *wechat.Client
	token string // a stable access_token of testAppID
}

func setupSim(t *testing.T, app wechatsim.App) *simBundle {
	t.Helper()
	sim := wechatsim.New(wechatsim.Options{})
	app.AppID, app.Secret = testAppID, testSecret
	if app.Pages == nil {
		app.Pages = []string{simPage}
	}
	sim.AddApp(app)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c := wechat.New(wechat.Options{BaseURL: srv.URL, Timeout: 5 * time.Second})
	tok, err := c.GetStableAccessToken(context.Background(), testAppID, testSecret, false)
	if err != nil {
		t.Fatalf("GetStableAccessToken: %v", err)
	}
	return &simBundle{sim: sim, c: c, token: tok.Token}
}

// requireErrcode fails unless err is a *wechat.Error with code and class.
func requireErrcode(t *testing.T, err error, code int, class wechat.Class) {
	t.Helper()
	var we *wechat.Error
	if !errors.As(err, &we) {
		t.Fatalf("err = %v, want errcode %d", err, code)
	}
	if we.ErrCode != code {
		t.Fatalf("errcode %d (%s), want %d", we.ErrCode, we.ErrMsg, code)
	}
	if got := wechat.ClassOf(err); got != class {
		t.Fatalf("errcode %d: class %v, want %v", code, got, class)
	}
	if we.RID == "" {
		t.Errorf("errcode %d: no rid parsed from %q", code, we.ErrMsg)
	}
}

// addSubscribeTemplate adds public title 99 (付款成功通知) with keywords 1
// (thing), 2 (amount), 3 (time) through the API, and returns its priTmplId.
func (b *simBundle) addSubscribeTemplate(t *testing.T) string {
	t.Helper()
	id, err := b.c.SubscribeTemplateAdd(context.Background(), b.token, "99", []int{1, 2, 3}, "付款后通知")
	if err != nil {
		t.Fatalf("SubscribeTemplateAdd: %v", err)
	}
	return id
}

func subscribeMsg(openid, tmpl string) *wechat.SubscribeMessage {
	return &wechat.SubscribeMessage{
		ToUser: openid, TemplateID: tmpl, Page: simPage + "?order=1&from=<push>",
		Data: wechat.Data{"thing1": "会员月卡 <VIP> & more", "amount2": "¥30.00", "time3": "2019年10月1日 15:01"},
		Lang: wechat.LangZhCN,
	}
}

func TestSim_GetAccessToken(t *testing.T) {
	t.Parallel()
	b := setupSim(t, wechatsim.App{DailyTokenQuota: 2})
	ctx := context.Background()

	tok, err := b.c.GetAccessToken(ctx, testAppID, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Token == "" || tok.ExpiresIn != 2*time.Hour {
		t.Fatalf("token = %v", tok)
	}
	if _, err := b.c.SubscribeCategories(ctx, tok.Token); err != nil {
		t.Fatalf("token does not work: %v", err)
	}

	t.Run("WrongSecret", func(t *testing.T) {
		_, err := b.c.GetAccessToken(ctx, testAppID, "wrong-secret")
		requireErrcode(t, err, 40125, wechat.ClassPermanent)
	})
	t.Run("UnknownApp", func(t *testing.T) {
		_, err := b.c.GetAccessToken(ctx, "wx0000000000000000", testSecret)
		requireErrcode(t, err, 40013, wechat.ClassPermanent)
	})
	t.Run("DailyQuota", func(t *testing.T) {
		if _, err := b.c.GetAccessToken(ctx, testAppID, testSecret); err != nil {
			t.Fatal(err)
		}
		_, err := b.c.GetAccessToken(ctx, testAppID, testSecret)
		requireErrcode(t, err, 45009, wechat.ClassQuota)
	})
}

func TestSim_GetStableAccessToken(t *testing.T) {
	t.Parallel()
	b := setupSim(t, wechatsim.App{})
	ctx := context.Background()

	again, err := b.c.GetStableAccessToken(ctx, testAppID, testSecret, false)
	if err != nil {
		t.Fatal(err)
	}
	if again.Token != b.token {
		t.Fatalf("normal mode changed the token")
	}
	if again.ExpiresIn <= 0 || again.ExpiresIn > 2*time.Hour {
		t.Fatalf("ExpiresIn = %v", again.ExpiresIn)
	}

	fresh, err := b.c.GetStableAccessToken(ctx, testAppID, testSecret, true)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Token == b.token {
		t.Fatalf("force_refresh kept the token")
	}
	if _, err := b.c.SubscribeTemplateList(ctx, fresh.Token); err != nil {
		t.Fatalf("new token: %v", err)
	}
	// The token that force_refresh voided is ClassToken.
	_, err = b.c.SubscribeTemplateList(ctx, b.token)
	requireErrcode(t, err, 40001, wechat.ClassToken)

	_, err = b.c.GetStableAccessToken(ctx, testAppID, "wrong-secret", false)
	requireErrcode(t, err, 40125, wechat.ClassPermanent)
}

func TestSim_Code2Session(t *testing.T) {
	t.Parallel()
	b := setupSim(t, wechatsim.App{UnionID: true})
	ctx := context.Background()

	code := b.sim.MintLoginCode(testAppID, "openid-alice")
	s, err := b.c.Code2Session(ctx, testAppID, testSecret, code)
	if err != nil {
		t.Fatal(err)
	}
	if s.OpenID != "openid-alice" || s.SessionKey == "" || s.UnionID == "" {
		t.Fatalf("session = %#v", s)
	}

	_, err = b.c.Code2Session(ctx, testAppID, testSecret, code)
	requireErrcode(t, err, 40163, wechat.ClassPermanent)

	_, err = b.c.Code2Session(ctx, testAppID, testSecret, "no-such-code")
	requireErrcode(t, err, 40029, wechat.ClassPermanent)

	_, err = b.c.Code2Session(ctx, testAppID, "wrong-secret", b.sim.MintLoginCode(testAppID, "openid-alice"))
	requireErrcode(t, err, 40125, wechat.ClassPermanent)
}

func TestSim_SendSubscribe(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setupSim(t, wechatsim.App{})
		tmpl := b.addSubscribeTemplate(t)
		b.sim.GrantSubscribe(testAppID, "openid-bob", tmpl, 1)
		m := subscribeMsg("openid-bob", tmpl)

		id, err := b.c.SendSubscribe(context.Background(), b.token, m)
		if err != nil {
			t.Fatal(err)
		}
		inbox := b.sim.Inbox(testAppID, "openid-bob")
		if len(inbox) != 1 {
			t.Fatalf("inbox has %d messages", len(inbox))
		}
		d := inbox[0]
		if got := strconv.FormatUint(d.MsgID, 10); got != id {
			t.Fatalf("msgid %s, delivered %s", id, got)
		}
		if d.MsgID <= 1<<53 {
			t.Fatalf("simulator msgid %d is not above 2^53; the test proves nothing", d.MsgID)
		}
		if d.TemplateID != tmpl || d.Page != m.Page || d.Lang != wechat.LangZhCN {
			t.Fatalf("delivered %+v", d)
		}
		for k, v := range m.Data {
			if d.Data[k] != v {
				t.Fatalf("data[%s] = %q, want %q (HTML must not be escaped)", k, d.Data[k], v)
			}
		}
		if n := b.sim.Calls(wechatsim.PathSubscribeSend, testAppID); n != 1 {
			t.Fatalf("Calls = %d", n)
		}

		// The one grant is spent: the user's credit for this template is gone.
		_, err = b.c.SendSubscribe(context.Background(), b.token, m)
		requireErrcode(t, err, 43101, wechat.ClassCredit)
	})

	t.Run("Permanent", func(t *testing.T) {
		t.Parallel()
		b := setupSim(t, wechatsim.App{})
		tmpl := b.addSubscribeTemplate(t)
		b.sim.GrantSubscribe(testAppID, "openid-bob", tmpl, 10)
		ctx := context.Background()

		_, err := b.c.SendSubscribe(ctx, b.token, subscribeMsg("openid-bob", "no-such-template"))
		requireErrcode(t, err, 40037, wechat.ClassPermanent)

		m := subscribeMsg("openid-bob", tmpl)
		m.Data = wechat.Data{"thing1": "x", "amount2": "not money", "time3": "2019年10月1日 15:01"}
		_, err = b.c.SendSubscribe(ctx, b.token, m)
		requireErrcode(t, err, 47003, wechat.ClassPermanent)

		m = subscribeMsg("openid-bob", tmpl)
		m.Page = "pages/missing/missing"
		_, err = b.c.SendSubscribe(ctx, b.token, m)
		requireErrcode(t, err, 41030, wechat.ClassPermanent)

		_, err = b.c.SendSubscribe(ctx, b.token, subscribeMsg("", tmpl))
		requireErrcode(t, err, 40003, wechat.ClassPermanent)
	})

	t.Run("Token", func(t *testing.T) {
		t.Parallel()
		b := setupSim(t, wechatsim.App{})
		tmpl := b.addSubscribeTemplate(t)
		ctx := context.Background()

		_, err := b.c.SendSubscribe(ctx, "bogus-token", subscribeMsg("openid-bob", tmpl))
		requireErrcode(t, err, 40001, wechat.ClassToken)

		b.sim.RevokeTokens(testAppID)
		_, err = b.c.SendSubscribe(ctx, b.token, subscribeMsg("openid-bob", tmpl))
		requireErrcode(t, err, 40001, wechat.ClassToken)
	})

	t.Run("Quota", func(t *testing.T) {
		t.Parallel()
		b := setupSim(t, wechatsim.App{DailySendQuota: 1})
		tmpl := b.addSubscribeTemplate(t)
		b.sim.GrantSubscribe(testAppID, "openid-bob", tmpl, 5)
		ctx := context.Background()
		if _, err := b.c.SendSubscribe(ctx, b.token, subscribeMsg("openid-bob", tmpl)); err != nil {
			t.Fatal(err)
		}
		_, err := b.c.SendSubscribe(ctx, b.token, subscribeMsg("openid-bob", tmpl))
		requireErrcode(t, err, 45009, wechat.ClassQuota)
	})

	t.Run("Faults", func(t *testing.T) {
		t.Parallel()
		b := setupSim(t, wechatsim.App{})
		tmpl := b.addSubscribeTemplate(t)
		b.sim.GrantSubscribe(testAppID, "openid-bob", tmpl, 10)
		ctx := context.Background()
		send := func() error {
			_, err := b.c.SendSubscribe(ctx, b.token, subscribeMsg("openid-bob", tmpl))
			return err
		}
		inject := func(f wechatsim.Fault) {
			f.Path, f.AppID, f.Count = wechatsim.PathSubscribeSend, testAppID, 1
			b.sim.InjectFault(f)
		}

		inject(wechatsim.Fault{ErrCode: -1})
		requireErrcode(t, send(), -1, wechat.ClassRetry)

		inject(wechatsim.Fault{ErrCode: 45011})
		requireErrcode(t, send(), 45011, wechat.ClassThrottle)

		inject(wechatsim.Fault{ErrCode: 45009})
		requireErrcode(t, send(), 45009, wechat.ClassQuota)

		inject(wechatsim.Fault{ErrCode: 42001})
		requireErrcode(t, send(), 42001, wechat.ClassToken)

		inject(wechatsim.Fault{ErrCode: 40014})
		requireErrcode(t, send(), 40014, wechat.ClassToken)

		inject(wechatsim.Fault{Reset: true})
		err := send()
		var ne *wechat.NetError
		if !errors.As(err, &ne) || wechat.ClassOf(err) != wechat.ClassRetry {
			t.Fatalf("reset: err = %v, class %v", err, wechat.ClassOf(err))
		}

		if err := send(); err != nil {
			t.Fatalf("after the faults: %v", err)
		}
	})

	t.Run("Hang", func(t *testing.T) {
		t.Parallel()
		b := setupSim(t, wechatsim.App{})
		tmpl := b.addSubscribeTemplate(t)
		b.sim.InjectFault(wechatsim.Fault{Path: wechatsim.PathSubscribeSend, Hang: true, Count: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := b.c.SendSubscribe(ctx, b.token, subscribeMsg("openid-bob", tmpl))
		if !errors.Is(err, context.DeadlineExceeded) || wechat.ClassOf(err) != wechat.ClassRetry {
			t.Fatalf("hang: err = %v, class %v", err, wechat.ClassOf(err))
		}
	})
}

func TestSim_SendTemplate(t *testing.T) {
	t.Parallel()
	b := setupSim(t, wechatsim.App{})
	ctx := context.Background()
	tmpl, err := b.c.TemplateAdd(ctx, b.token, "AT0002", []int{3, 4, 5})
	if err != nil {
		t.Fatal(err)
	}
	msg := func(formID string) *wechat.TemplateMessage {
		return &wechat.TemplateMessage{
			ToUser: "openid-carol", TemplateID: tmpl, Page: simPage, FormID: formID,
			Data:            wechat.Data{"keyword1": "TIT造舰厂", "keyword2": "2016年6月6日", "keyword3": "咖啡 & <茶>"},
			EmphasisKeyword: "keyword1.DATA",
		}
	}

	formID := b.sim.MintFormID(testAppID, "openid-carol")
	if err := b.c.SendTemplate(ctx, b.token, msg(formID)); err != nil {
		t.Fatal(err)
	}
	inbox := b.sim.Inbox(testAppID, "openid-carol")
	if len(inbox) != 1 || inbox[0].FormID != formID || inbox[0].Data["keyword3"] != "咖啡 & <茶>" || inbox[0].EmphasisKeyword != "keyword1.DATA" {
		t.Fatalf("inbox = %+v", inbox)
	}

	// A form_id allows one message.
	requireErrcode(t, b.c.SendTemplate(ctx, b.token, msg(formID)), 41029, wechat.ClassCredit)
	requireErrcode(t, b.c.SendTemplate(ctx, b.token, msg("no-such-form-id")), 41028, wechat.ClassCredit)
	requireErrcode(t, b.c.SendTemplate(ctx, b.token, msg(b.sim.MintFormID(testAppID, "openid-dave"))), 41028, wechat.ClassCredit)

	// A prepay_id allows wechatsim.PrepayIDUses.
	prepay := b.sim.MintPrepayID(testAppID, "openid-carol")
	for i := range wechatsim.PrepayIDUses {
		if err := b.c.SendTemplate(ctx, b.token, msg(prepay)); err != nil {
			t.Fatalf("prepay use %d: %v", i+1, err)
		}
	}
	requireErrcode(t, b.c.SendTemplate(ctx, b.token, msg(prepay)), 41029, wechat.ClassCredit)

	m := msg(b.sim.MintFormID(testAppID, "openid-carol"))
	m.TemplateID = "no-such-template"
	requireErrcode(t, b.c.SendTemplate(ctx, b.token, m), 40037, wechat.ClassPermanent)

	requireErrcode(t, b.c.SendTemplate(ctx, "bogus-token", msg(formID)), 40001, wechat.ClassToken)
}

func TestSim_SubscribeTemplates(t *testing.T) {
	t.Parallel()
	b := setupSim(t, wechatsim.App{})
	ctx := context.Background()

	cats, err := b.c.SubscribeCategories(ctx, b.token)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(cats, wechat.Category{ID: wechatsim.CategorySoftware, Name: "软件服务提供商"}) {
		t.Fatalf("categories = %+v", cats)
	}

	titles, err := b.c.SubscribePubTemplateTitles(ctx, b.token, []int{wechatsim.CategorySoftware, wechatsim.CategoryExpress}, 0, 30)
	if err != nil {
		t.Fatal(err)
	}
	if titles.Count < 2 || len(titles.Data) != titles.Count {
		t.Fatalf("titles = %+v", titles)
	}
	if !slices.Contains(titles.Data, wechat.PubTemplateTitle{TID: "99", Title: "付款成功通知", Type: wechat.TemplateTypeOneTime, CategoryID: "616"}) {
		t.Fatalf("title 99 missing: %+v", titles.Data)
	}
	page, err := b.c.SubscribePubTemplateTitles(ctx, b.token, []int{wechatsim.CategorySoftware}, 1, 1)
	if err != nil || len(page.Data) != 1 {
		t.Fatalf("paging: %+v, %v", page, err)
	}
	_, err = b.c.SubscribePubTemplateTitles(ctx, b.token, []int{616}, 0, 31)
	requireErrcode(t, err, 200017, wechat.ClassPermanent)

	kws, err := b.c.SubscribePubTemplateKeywords(ctx, b.token, "99")
	if err != nil {
		t.Fatal(err)
	}
	if len(kws) != 5 || kws[0] != (wechat.PubTemplateKeyword{KID: 1, Name: "物品名称", Example: "会员月卡", Rule: "thing"}) {
		t.Fatalf("keywords = %+v", kws)
	}
	_, err = b.c.SubscribePubTemplateKeywords(ctx, b.token, "424242")
	requireErrcode(t, err, 200014, wechat.ClassPermanent)

	id := b.addSubscribeTemplate(t)
	_, err = b.c.SubscribeTemplateAdd(ctx, b.token, "99", []int{1}, "")
	requireErrcode(t, err, 200020, wechat.ClassPermanent)

	list, err := b.c.SubscribeTemplateList(ctx, b.token)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].PriTmplID != id || list[0].Title != "付款成功通知" ||
		list[0].Content != "物品名称:{{thing1.DATA}}\n付款金额:{{amount2.DATA}}\n付款时间:{{time3.DATA}}\n" {
		t.Fatalf("templates = %+v", list)
	}

	if err := b.c.SubscribeTemplateDelete(ctx, b.token, id); err != nil {
		t.Fatal(err)
	}
	if list, err := b.c.SubscribeTemplateList(ctx, b.token); err != nil || len(list) != 0 {
		t.Fatalf("after delete: %+v, %v", list, err)
	}
	requireErrcode(t, b.c.SubscribeTemplateDelete(ctx, b.token, id), 40037, wechat.ClassPermanent)
}

func TestSim_LegacyTemplates(t *testing.T) {
	t.Parallel()
	b := setupSim(t, wechatsim.App{})
	ctx := context.Background()

	lib, err := b.c.TemplateLibraryList(ctx, b.token, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if lib.TotalCount < 4 || len(lib.List) != 2 || lib.List[0] != (wechat.LibraryTitle{ID: "AT0002", Title: "购买成功通知"}) {
		t.Fatalf("library = %+v", lib)
	}
	_, err = b.c.TemplateLibraryList(ctx, b.token, 0, 21)
	requireErrcode(t, err, 47003, wechat.ClassPermanent)

	lt, err := b.c.TemplateLibraryGet(ctx, b.token, "AT0002")
	if err != nil {
		t.Fatal(err)
	}
	want := wechat.LibraryTemplate{ID: "AT0002", Title: "购买成功通知", KeywordList: []wechat.LibraryKeyword{
		{KeywordID: 3, Name: "购买地点", Example: "TIT造舰厂"},
		{KeywordID: 4, Name: "购买时间", Example: "2016年6月6日"},
		{KeywordID: 5, Name: "物品名称", Example: "咖啡"},
	}}
	if !slices.EqualFunc([]wechat.LibraryTemplate{lt}, []wechat.LibraryTemplate{want}, func(x, y wechat.LibraryTemplate) bool {
		return x.ID == y.ID && x.Title == y.Title && slices.Equal(x.KeywordList, y.KeywordList)
	}) {
		t.Fatalf("library template = %+v", lt)
	}

	id, err := b.c.TemplateAdd(ctx, b.token, "AT0002", []int{5, 3})
	if err != nil {
		t.Fatal(err)
	}
	list, err := b.c.TemplateList(ctx, b.token, 0, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].TemplateID != id || list[0].Title != "购买成功通知" {
		t.Fatalf("templates = %+v", list)
	}

	if err := b.c.TemplateDelete(ctx, b.token, id); err != nil {
		t.Fatal(err)
	}
	if list, err := b.c.TemplateList(ctx, b.token, 0, 20); err != nil || len(list) != 0 {
		t.Fatalf("after delete: %+v, %v", list, err)
	}
	if err := b.c.TemplateDelete(ctx, b.token, id); wechat.ClassOf(err) != wechat.ClassPermanent {
		t.Fatalf("deleting twice: %v", err)
	}
}
