package catalog_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/catalog"
	"github.com/wxnotify/wxnotify/delivery"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/jobs"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/token"
	"github.com/wxnotify/wxnotify/wechat"
	"github.com/wxnotify/wxnotify/wechatsim"
)

const (
	appID  = "wx0123456789abcdef"
	app2   = "wxfedcba9876543210"
	secret = "catalog-test-secret"
	user   = "oUSER0000000000001"
)

// testBundle is a simulated WeChat with one app, a database, and the
// catalog and delivery services over them.
type testBundle struct {
	sim      *wechatsim.Server
	client   *wechat.Client
	st       store.Driver
	tokens   *token.Service
	catalog  *catalog.Service
	messages *delivery.Service
}

func setup(t *testing.T, e testdb.Engine) *testBundle {
	t.Helper()
	sim := wechatsim.New(wechatsim.Options{})
	sim.AddApp(wechatsim.App{AppID: appID, Secret: secret})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	key, _ := seal.ParseKey(seal.GenerateKey())
	box, _ := seal.New(key)
	st := e.NewDB(t)(t)
	apps := &token.AppService{Store: st, Box: box}
	for _, id := range []string{appID, app2} {
		if err := apps.CreateApp(context.Background(), &wxnotify.App{AppID: id, Secret: secret}); err != nil {
			t.Fatal(err)
		}
	}
	tb := &testBundle{sim: sim, client: wechat.New(wechat.Options{BaseURL: srv.URL}), st: st}
	tb.tokens = &token.Service{Store: st, Box: box, Fetcher: token.WeChatFetcher{Client: tb.client}}
	tb.catalog = &catalog.Service{Store: st, Queue: queue.New(st), Client: tb.client, Tokens: tb.tokens}
	tb.messages = &delivery.Service{Queue: queue.New(st), Store: st, Apps: apps, Templates: tb.catalog}
	return tb
}

func ctxAll() context.Context {
	return wxnotify.NewContextWithAPIKey(context.Background(), &wxnotify.APIKey{ID: "test", Apps: []string{wxnotify.AllApps}})
}

// shipped adds a subscribe template thing1 (商品), time2 (时间) on WeChat's
// side and syncs it.
func (tb *testBundle) shipped(t *testing.T) string {
	t.Helper()
	id := tb.sim.AddTemplateDirect(appID, "发货通知", wechatsim.Keyword{Key: "thing1", Name: "商品"}, wechatsim.Keyword{Key: "time2", Name: "时间"})
	if _, _, err := tb.catalog.SyncTemplates(ctxAll(), appID); err != nil {
		t.Fatal(err)
	}
	return id
}

func checkCode(t *testing.T, err error, code, field string) {
	t.Helper()
	if got := wxnotify.ErrorCode(err); got != code {
		t.Fatalf("err=%v: code %q, want %q", err, got, code)
	}
	if got := wxnotify.ErrorField(err); got != field {
		t.Fatalf("err=%v: field %q, want %q", err, got, field)
	}
}

func msg(templateID string, data map[string]string) *wxnotify.Message {
	return &wxnotify.Message{AppID: appID, OpenID: user, TemplateID: templateID, Data: data}
}

func forEngine(t *testing.T, f func(t *testing.T, tb *testBundle)) {
	t.Helper()
	for _, e := range testdb.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			f(t, setup(t, e))
		})
	}
}

func TestSync(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, tb *testBundle) {
		ctx := ctxAll()
		sub := tb.sim.AddTemplateDirect(appID, "发货通知", wechatsim.Keyword{Key: "thing1", Name: "商品名称"}, wechatsim.Keyword{Key: "character_string2", Name: "订单号"})
		legacy := tb.sim.AddLegacyTemplateDirect(appID, "购买成功通知", "购买地点", "购买时间")
		added, removed, err := tb.catalog.SyncTemplates(ctx, appID)
		if err != nil {
			t.Fatal(err)
		}
		if added != 2 || removed != 0 {
			t.Fatalf("first sync: added=%d removed=%d, want 2, 0", added, removed)
		}
		list, err := tb.catalog.FindTemplates(ctx, appID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 {
			t.Fatalf("FindTemplates: %d templates, want 2", len(list))
		}
		s, l := list[0], list[1] // subscribe sorts before template
		if s.TemplateID != sub || s.Kind != wxnotify.MessageSubscribe || s.Title != "发货通知" || s.Type != wxnotify.TemplateOneTime || s.Deleted || s.SyncedAt.IsZero() {
			t.Fatalf("subscribe template: %+v", s)
		}
		want := []wxnotify.TemplateKeyword{{Key: "thing1", Label: "商品名称", Type: wxnotify.KeywordThing}, {Key: "character_string2", Label: "订单号", Type: wxnotify.KeywordCharacterString}}
		if len(s.Keywords) != 2 || s.Keywords[0] != want[0] || s.Keywords[1] != want[1] {
			t.Fatalf("keywords=%+v, want %+v", s.Keywords, want)
		}
		if l.TemplateID != legacy || l.Kind != wxnotify.MessageTemplate || len(l.Keywords) != 2 || l.Keywords[1] != (wxnotify.TemplateKeyword{Key: "keyword2", Label: "购买时间", Type: wxnotify.KeywordLegacy}) {
			t.Fatalf("legacy template: %+v", l)
		}
		if added, removed, err := tb.catalog.SyncTemplates(ctx, appID); err != nil || added != 0 || removed != 0 {
			t.Fatalf("second sync: added=%d removed=%d err=%v, want 0, 0", added, removed, err)
		}
		// A key for app 2 only may not sync app 1.
		ctx2 := wxnotify.NewContextWithAPIKey(context.Background(), &wxnotify.APIKey{ID: "k2", Apps: []string{app2}})
		if _, _, err := tb.catalog.SyncTemplates(ctx2, appID); wxnotify.ErrorCode(err) != wxnotify.EFORBIDDEN {
			t.Fatalf("sync with another app's key: err=%v, want EFORBIDDEN", err)
		}
		if _, err := tb.catalog.FindTemplates(ctx2, appID); wxnotify.ErrorCode(err) != wxnotify.EFORBIDDEN {
			t.Fatalf("list with another app's key: err=%v, want EFORBIDDEN", err)
		}
	})
}

func TestLibraryAddDelete(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, tb *testBundle) {
		ctx := ctxAll()
		cats, err := tb.catalog.FindLibraryCategories(ctx, appID)
		if err != nil || len(cats) == 0 {
			t.Fatalf("categories: %v, err=%v", cats, err)
		}
		page, err := tb.catalog.FindLibraryTitles(ctx, appID, wxnotify.LibraryFilter{CategoryIDs: []int{wechatsim.CategoryExpress}})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 3 || len(page.Titles) != 3 || page.Titles[0].ID != "1001" || page.Titles[0].Title != "订单发货通知" {
			t.Fatalf("express titles: total=%d %+v", page.Total, page.Titles)
		}
		all, err := tb.catalog.FindLibraryTitles(ctx, appID, wxnotify.LibraryFilter{Limit: 2})
		if err != nil || all.Total != 10 || len(all.Titles) != 2 {
			t.Fatalf("every category, limit 2: total=%d titles=%d err=%v; want 10, 2", all.Total, len(all.Titles), err)
		}
		kws, err := tb.catalog.FindLibraryKeywords(ctx, appID, "", "1001")
		if err != nil {
			t.Fatal(err)
		}
		if len(kws) != 5 || kws[1].ID != 2 || kws[1].Name != "商品名称" || kws[1].Rule != wxnotify.KeywordThing {
			t.Fatalf("keywords of 1001: %+v", kws)
		}

		tpl, err := tb.catalog.AddTemplate(ctx, appID, &wxnotify.TemplateAdd{TitleID: "1001", KeywordIDs: []int{2, 4}, SceneDesc: "发货时"})
		if err != nil {
			t.Fatal(err)
		}
		if tpl.Title != "订单发货通知" || len(tpl.Keywords) != 2 || tpl.Keywords[0].Key != "thing2" || tpl.Keywords[0].Label != "商品名称" || tpl.Keywords[1].Key != "character_string4" {
			t.Fatalf("added template: %+v", tpl)
		}
		// Usable at once, and checked.
		if _, err := tb.messages.Enqueue(ctx, msg(tpl.TemplateID, map[string]string{"thing2": "耳机", "character_string4": "SF1234567890"})); err != nil {
			t.Fatal(err)
		}
		_, err = tb.messages.Enqueue(ctx, msg(tpl.TemplateID, map[string]string{"thing2": "耳机"}))
		checkCode(t, err, wxnotify.EINVALID, "data.character_string4")

		// Legacy library.
		lib, err := tb.catalog.FindLibraryTitles(ctx, appID, wxnotify.LibraryFilter{Kind: wxnotify.MessageTemplate})
		if err != nil || lib.Total != 4 || lib.Titles[0].ID != "AT0002" {
			t.Fatalf("legacy library: %+v err=%v", lib, err)
		}
		lkws, err := tb.catalog.FindLibraryKeywords(ctx, appID, wxnotify.MessageTemplate, "AT0002")
		if err != nil || len(lkws) != 3 || lkws[0].ID != 3 {
			t.Fatalf("legacy keywords: %+v err=%v", lkws, err)
		}
		ltpl, err := tb.catalog.AddTemplate(ctx, appID, &wxnotify.TemplateAdd{Kind: wxnotify.MessageTemplate, TitleID: "AT0002", KeywordIDs: []int{5, 3}})
		if err != nil {
			t.Fatal(err)
		}
		if ltpl.Kind != wxnotify.MessageTemplate || len(ltpl.Keywords) != 2 || ltpl.Keywords[0].Label != "物品名称" || ltpl.Keywords[0].Key != "keyword1" {
			t.Fatalf("added legacy template: %+v", ltpl)
		}

		// Refusals, ours and WeChat's.
		_, err = tb.catalog.AddTemplate(ctx, appID, &wxnotify.TemplateAdd{TitleID: "1001", KeywordIDs: []int{2}})
		checkCode(t, err, wxnotify.EINVALID, "kid_list")
		_, err = tb.catalog.AddTemplate(ctx, appID, &wxnotify.TemplateAdd{TitleID: "424242", KeywordIDs: []int{1, 2}})
		if wxnotify.ErrorCode(err) != wxnotify.EINVALID || !strings.Contains(wxnotify.ErrorMessage(err), "200014") {
			t.Fatalf("unknown title: err=%v, want EINVALID naming errcode 200014", err)
		}

		// Delete by alias: gone on WeChat, deleted in the catalog, refused on accept.
		if err := tb.catalog.SetAlias(ctx, appID, "order_shipped", tpl.TemplateID); err != nil {
			t.Fatal(err)
		}
		if err := tb.catalog.DeleteTemplate(ctx, appID, "order_shipped"); err != nil {
			t.Fatal(err)
		}
		tok, err := tb.tokens.Token(ctx, appID)
		if err != nil {
			t.Fatal(err)
		}
		live, err := tb.client.SubscribeTemplateList(ctx, tok.Value.Reveal())
		if err != nil || len(live) != 0 {
			t.Fatalf("WeChat still lists %d templates (err=%v), want 0", len(live), err)
		}
		got, err := tb.catalog.ResolveTemplate(ctx, appID, tpl.TemplateID)
		if err != nil || !got.Deleted {
			t.Fatalf("after delete: %+v err=%v, want Deleted", got, err)
		}
		_, err = tb.messages.Enqueue(ctx, msg("order_shipped", map[string]string{"thing2": "耳机", "character_string4": "SF1"}))
		checkCode(t, err, wxnotify.EINVALID, "template_id")
		// Deleting again is fine: WeChat's 40037 still marks it.
		if err := tb.catalog.DeleteTemplate(ctx, appID, tpl.TemplateID); err != nil {
			t.Fatalf("delete twice: %v", err)
		}
		err = tb.catalog.DeleteTemplate(ctx, appID, "no_such_template")
		checkCode(t, err, wxnotify.ENOTFOUND, "template_id")
	})
}

func TestAliasThroughEnqueue(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, tb *testBundle) {
		ctx := ctxAll()
		id := tb.shipped(t)
		checkCode(t, tb.catalog.SetAlias(ctx, appID, "Order Shipped", id), wxnotify.EINVALID, "alias")
		checkCode(t, tb.catalog.SetAlias(ctx, appID, "order_shipped", "NO-SUCH-ID"), wxnotify.ENOTFOUND, "template_id")
		if err := tb.catalog.SetAlias(ctx, appID, "order_shipped", id); err != nil {
			t.Fatal(err)
		}
		// An alias of an alias names the same template.
		if err := tb.catalog.SetAlias(ctx, appID, "shipped", "order_shipped"); err != nil {
			t.Fatal(err)
		}
		m := msg("shipped", map[string]string{"thing1": "书", "time2": "2026-11-25 10:00"})
		if _, err := tb.messages.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
		if m.TemplateID != id || m.Kind != wxnotify.MessageSubscribe {
			t.Fatalf("accepted message: template_id=%q kind=%q, want %q subscribe", m.TemplateID, m.Kind, id)
		}
		stored, _, err := tb.messages.FindMessageByID(ctx, m.ID)
		if err != nil || stored.TemplateID != id {
			t.Fatalf("stored template_id=%q err=%v, want %q", stored.TemplateID, err, id)
		}
		list, _ := tb.catalog.FindTemplates(ctx, appID)
		if len(list) != 1 || strings.Join(list[0].Aliases, ",") != "order_shipped,shipped" {
			t.Fatalf("aliases=%v", list[0].Aliases)
		}
		if err := tb.catalog.DeleteAlias(ctx, appID, "shipped"); err != nil {
			t.Fatal(err)
		}
		checkCode(t, tb.catalog.DeleteAlias(ctx, appID, "shipped"), wxnotify.ENOTFOUND, "alias")
		_, err = tb.catalog.ResolveTemplate(ctx, appID, "shipped")
		checkCode(t, err, wxnotify.ENOTFOUND, "template_id")
	})
}

func TestValidate(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, tb *testBundle) {
		ctx := ctxAll()
		id := tb.shipped(t)
		legacy := tb.sim.AddLegacyTemplateDirect(appID, "订单通知", "单号", "状态")
		if _, _, err := tb.catalog.SyncTemplates(ctx, appID); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name  string
			m     *wxnotify.Message
			field string
		}{
			{"Missing", msg(id, map[string]string{"thing1": "书"}), "data.time2"},
			{"Unknown", msg(id, map[string]string{"thing1": "书", "time2": "10:00", "thing9": "x"}), "data.thing9"},
			{"Rule", msg(id, map[string]string{"thing1": "书", "time2": "tomorrow"}), "data.time2"},
			{"ThingTooLong", msg(id, map[string]string{"thing1": strings.Repeat("书", 21), "time2": "10:00"}), "data.thing1"},
			{"KindMismatch", &wxnotify.Message{AppID: appID, OpenID: user, Kind: wxnotify.MessageSubscribe, TemplateID: legacy, Data: map[string]string{"keyword1": "A", "keyword2": "B"}}, "kind"},
			{"LegacyMissing", &wxnotify.Message{AppID: appID, OpenID: user, Kind: wxnotify.MessageTemplate, TemplateID: legacy, Data: map[string]string{"keyword1": "A"}}, "data.keyword2"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := tb.messages.Enqueue(ctx, tt.m)
				checkCode(t, err, wxnotify.EINVALID, tt.field)
			})
		}
		// A legacy template's kind is taken from the catalog when not given.
		m := msg(legacy, map[string]string{"keyword1": "A100", "keyword2": "已发货"})
		if _, err := tb.messages.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
		if m.Kind != wxnotify.MessageTemplate {
			t.Fatalf("kind=%q, want template (from the catalog)", m.Kind)
		}
		// A template the catalog has never seen makes it sync once: one added
		// on the platform since passes, a typo is refused naming template_id,
		// and a second typo within the interval costs no WeChat call.
		const list = wechatsim.PathGetTemplate
		before := tb.sim.Calls(list, appID)
		fresh := tb.sim.AddTemplateDirect(appID, "新模板", wechatsim.Keyword{Key: "thing7", Name: "备注"})
		if _, err := tb.messages.Enqueue(ctx, msg(fresh, map[string]string{"thing7": "x"})); err != nil {
			t.Fatalf("template added on the platform since the last sync: %v", err)
		}
		_, err := tb.messages.Enqueue(ctx, msg("UNKNOWN-TEMPLATE", map[string]string{"thing7": "x"}))
		checkCode(t, err, wxnotify.EINVALID, "template_id")
		_, err = tb.messages.Enqueue(ctx, msg("UNKNOWN-TEMPLATE-2", map[string]string{"thing7": "x"}))
		checkCode(t, err, wxnotify.EINVALID, "template_id")
		if got := tb.sim.Calls(list, appID) - before; got != 1 {
			t.Fatalf("template list calls for the misses: %d, want 1", got)
		}
		// EnqueueMany checks each message too.
		err = tb.messages.EnqueueMany(ctx, []*wxnotify.Message{msg(id, map[string]string{"thing1": "书"})})
		checkCode(t, err, wxnotify.EINVALID, "data.time2")
	})
}

func TestTruncation(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, tb *testBundle) {
		ctx := ctxAll()
		id := tb.shipped(t)
		long := strings.Repeat("长", 25)
		_, err := tb.catalog.SetTruncation(ctx, appID, id, []string{"time2"})
		checkCode(t, err, wxnotify.EINVALID, "keys[0]")
		tpl, err := tb.catalog.SetTruncation(ctx, appID, id, []string{"thing1", "thing1"})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(tpl.TruncateThing, ",") != "thing1" {
			t.Fatalf("TruncateThing=%v, want [thing1]", tpl.TruncateThing)
		}
		data := map[string]string{"thing1": long, "time2": "2026-11-25 10:00"}
		m := msg(id, data)
		if _, err := tb.messages.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
		stored, _, err := tb.messages.FindMessageByID(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := stored.Data["thing1"]
		if utf8.RuneCountInString(got) != wxnotify.MaxThingLen || !strings.HasSuffix(got, wxnotify.TruncationMark) || !strings.HasPrefix(got, strings.Repeat("长", 19)) {
			t.Fatalf("stored thing1=%q, want 19 characters and …", got)
		}
		if data["thing1"] != long {
			t.Fatal("the caller's data map was written")
		}
		// Turned off: refused again.
		if _, err := tb.catalog.SetTruncation(ctx, appID, id, nil); err != nil {
			t.Fatal(err)
		}
		_, err = tb.messages.Enqueue(ctx, msg(id, map[string]string{"thing1": long, "time2": "10:00"}))
		checkCode(t, err, wxnotify.EINVALID, "data.thing1")
	})
}

func TestDeletedTemplateFailsQueuedMessages(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, tb *testBundle) {
		ctx := ctxAll()
		id := tb.shipped(t)
		m := msg(id, map[string]string{"thing1": "书", "time2": "10:00"})
		m.SendAt = time.Now().Add(time.Hour)
		if _, err := tb.messages.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
		// Deleted on WeChat's side (the admin console), not through wxnotify.
		tok, err := tb.tokens.Token(ctx, appID)
		if err != nil {
			t.Fatal(err)
		}
		if err := tb.client.SubscribeTemplateDelete(ctx, tok.Value.Reveal(), id); err != nil {
			t.Fatal(err)
		}
		added, removed, err := tb.catalog.SyncTemplates(ctx, appID)
		if err != nil || added != 0 || removed != 1 {
			t.Fatalf("sync: added=%d removed=%d err=%v, want 0, 1", added, removed, err)
		}
		got, _, err := tb.messages.FindMessageByID(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != wxnotify.MessageFailed || !strings.Contains(got.LastError, "deleted on WeChat's side") || !strings.Contains(got.LastError, id) {
			t.Fatalf("message after sync: state=%s last_error=%q", got.State, got.LastError)
		}
	})
}

// TestSyncAll runs the template-sync job as serve does (a jobs.Runner).
func TestSyncAll(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, tb *testBundle) {
		tb.sim.AddTemplateDirect(appID, "发货通知", wechatsim.Keyword{Key: "thing1", Name: "商品"})
		type result struct {
			app         string
			added, gone int
			err         error
		}
		done := make(chan result, 4)
		tb.catalog.OnSync = func(app string, added, removed int, err error) { done <- result{app, added, removed, err} }
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		r := &jobs.Runner{Entries: []jobs.Entry{{Name: "template_sync", Interval: time.Hour, Job: jobs.Func(tb.catalog.SyncAll)}}}
		go func() { r.Run(ctx); close(stopped) }()
		t.Cleanup(func() { cancel(); <-stopped })
		for range 2 { // both apps, in appid order
			r := <-done
			switch r.app {
			case appID:
				if r.err != nil || r.added != 1 {
					t.Fatalf("sync of %s: added=%d err=%v, want 1", r.app, r.added, r.err)
				}
			case app2:
				// The simulator does not know app 2: its token cannot be had.
				if r.err == nil {
					t.Fatalf("sync of %s: want an error", r.app)
				}
			}
		}
		list, err := tb.catalog.FindTemplates(ctxAll(), appID)
		if err != nil || len(list) != 1 {
			t.Fatalf("after the sync job: %d templates, err=%v", len(list), err)
		}
	})
}
