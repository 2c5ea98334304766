package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/store"
)

func testTemplate(id, kind string) *store.Template {
	return &store.Template{
		TemplateID: id, Kind: kind, Title: "title " + id, Content: "商品:{{thing1.DATA}}\n",
		Keywords: []byte(`[{"key":"thing1","label":"商品","type":"thing"}]`), Type: 2,
	}
}

// exerciseTemplate checks the template catalog, and failing the queued
// messages of a template WeChat deleted (queue.FailTemplate).
func exerciseTemplate(t *testing.T, newDB NewDBFunc) {
	// setup gives a subtest a fresh database with apps 1 and 2.
	setup := func(t *testing.T) store.Driver {
		t.Helper()
		s := newDB(t)(t)
		insertApp(t.Context(), t, s, testAppID(1))
		insertApp(t.Context(), t, s, testAppID(2))
		return s
	}
	app, app2, app9 := testAppID(1), testAppID(2), testAppID(9)

	t.Run("SyncAddsUpdatesRemoves", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := setup(t)
		if _, err := s.TemplateSync(ctx, &store.TemplateSyncParams{AppID: app9, Kind: "subscribe", Templates: []*store.Template{testTemplate("A", "subscribe")}, Now: testNow}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("TemplateSync unknown app: err=%v, want ErrNotFound", err)
		}
		if _, err := s.TemplateSync(ctx, &store.TemplateSyncParams{AppID: app, Kind: "subscribe", Templates: []*store.Template{testTemplate("A", "template")}, Now: testNow}); err == nil {
			t.Fatal("TemplateSync with a template of another kind: want a validation error")
		}
		res, err := s.TemplateSync(ctx, &store.TemplateSyncParams{AppID: app, Kind: "subscribe", Now: testNow,
			Templates: []*store.Template{testTemplate("B", "subscribe"), testTemplate("A", "subscribe")}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(res.Added, res.Removed), "[A B] []"; got != want {
			t.Fatalf("first sync added, removed = %s, want %s", got, want)
		}
		// A legacy template of the same app is not touched by subscribe syncs.
		if _, err := s.TemplateSync(ctx, &store.TemplateSyncParams{AppID: app, Kind: "template", Now: testNow,
			Templates: []*store.Template{testTemplate("L", "template")}}); err != nil {
			t.Fatal(err)
		}
		if err := s.TemplateSetTruncate(ctx, app, "A", []byte(`["thing1"]`)); err != nil {
			t.Fatal(err)
		}
		later := testNow.Add(time.Hour)
		a := testTemplate("A", "subscribe")
		a.Title, a.Type = "renamed", 3
		res, err = s.TemplateSync(ctx, &store.TemplateSyncParams{AppID: app, Kind: "subscribe", Now: later,
			Templates: []*store.Template{a, testTemplate("C", "subscribe")}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(res.Added, res.Removed), "[C] [B]"; got != want {
			t.Fatalf("second sync added, removed = %s, want %s", got, want)
		}
		got, err := s.TemplateGet(ctx, app, "A")
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != "renamed" || got.Type != 3 || got.Kind != "subscribe" || got.Deleted || got.Content != a.Content {
			t.Fatalf("A after sync: %+v", got)
		}
		checkJSON(t, "A.Keywords", got.Keywords, a.Keywords)
		checkJSON(t, "A.Truncate (kept by sync)", got.Truncate, []byte(`["thing1"]`))
		checkTime(t, "A.SyncedAt", got.SyncedAt, later)
		checkTime(t, "A.CreatedAt", got.CreatedAt, testNow)
		b, err := s.TemplateGet(ctx, app, "B")
		if err != nil {
			t.Fatal(err)
		}
		if !b.Deleted {
			t.Fatalf("B after it left WeChat's list: Deleted=false")
		}
		checkTime(t, "B.DeletedAt", b.DeletedAt, later)
		checkTime(t, "B.SyncedAt", b.SyncedAt, testNow)
		checkJSON(t, "B.Truncate", b.Truncate, []byte(`[]`))

		// B comes back: added again, no longer deleted.
		res, err = s.TemplateSync(ctx, &store.TemplateSyncParams{AppID: app, Kind: "subscribe", Now: later,
			Templates: []*store.Template{a, testTemplate("B", "subscribe"), testTemplate("C", "subscribe")}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(res.Added, res.Removed), "[B] []"; got != want {
			t.Fatalf("third sync added, removed = %s, want %s", got, want)
		}
		list, err := s.TemplateList(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, t := range list {
			ids = append(ids, fmt.Sprintf("%s:%s:%v", t.TemplateID, t.Kind, t.Deleted))
		}
		if got, want := fmt.Sprint(ids), "[A:subscribe:false B:subscribe:false C:subscribe:false L:template:false]"; got != want {
			t.Fatalf("TemplateList=%s, want %s", got, want)
		}
		// An empty list deletes every template of the kind.
		res, err = s.TemplateSync(ctx, &store.TemplateSyncParams{AppID: app, Kind: "template", Now: later})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(res.Added, res.Removed), "[] [L]"; got != want {
			t.Fatalf("empty legacy sync added, removed = %s, want %s", got, want)
		}
		if list, err := s.TemplateList(ctx, app2); err != nil || len(list) != 0 {
			t.Fatalf("TemplateList of another app: %d templates, err=%v; want none", len(list), err)
		}
	})

	t.Run("UpsertGetMarkDeleted", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := setup(t)
		if err := s.TemplateUpsert(ctx, app9, testTemplate("A", "subscribe"), testNow); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("TemplateUpsert unknown app: err=%v, want ErrNotFound", err)
		}
		if err := s.TemplateUpsert(ctx, app, &store.Template{TemplateID: "A"}, testNow); err == nil {
			t.Fatal("TemplateUpsert without kind: want a validation error")
		}
		if err := s.TemplateUpsert(ctx, app, testTemplate("A", "template"), testNow); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TemplateGet(ctx, app2, "A"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("TemplateGet other app: err=%v, want ErrNotFound", err)
		}
		if _, err := s.TemplateMarkDeleted(ctx, app, "Z", testNow); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("TemplateMarkDeleted unknown: err=%v, want ErrNotFound", err)
		}
		later := testNow.Add(time.Minute)
		if changed, err := s.TemplateMarkDeleted(ctx, app, "A", later); err != nil || !changed {
			t.Fatalf("TemplateMarkDeleted: changed=%v err=%v, want true", changed, err)
		}
		if changed, err := s.TemplateMarkDeleted(ctx, app, "A", later.Add(time.Minute)); err != nil || changed {
			t.Fatalf("TemplateMarkDeleted twice: changed=%v err=%v, want false", changed, err)
		}
		got, err := s.TemplateGet(ctx, app, "A")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Deleted || got.Kind != "template" {
			t.Fatalf("after mark deleted: %+v", got)
		}
		checkTime(t, "DeletedAt (first mark)", got.DeletedAt, later)
		if err := s.TemplateSetTruncate(ctx, app, "Z", nil); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("TemplateSetTruncate unknown: err=%v, want ErrNotFound", err)
		}
		if err := s.TemplateSetTruncate(ctx, app, "A", nil); err != nil {
			t.Fatal(err)
		}
		got, _ = s.TemplateGet(ctx, app, "A")
		checkJSON(t, "Truncate after nil", got.Truncate, []byte(`[]`))
	})

	t.Run("Alias", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := setup(t)
		for _, id := range []string{"A", "B"} {
			if err := s.TemplateUpsert(ctx, app, testTemplate(id, "subscribe"), testNow); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.TemplateAliasSet(ctx, &store.TemplateAlias{AppID: app, Alias: "x", TemplateID: "Z"}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("TemplateAliasSet unknown template: err=%v, want ErrNotFound", err)
		}
		if err := s.TemplateAliasSet(ctx, &store.TemplateAlias{AppID: app2, Alias: "x", TemplateID: "A"}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("TemplateAliasSet template of another app: err=%v, want ErrNotFound", err)
		}
		for _, a := range []*store.TemplateAlias{
			{AppID: app, Alias: "shipped", TemplateID: "A"},
			{AppID: app, Alias: "paid", TemplateID: "A"},
			{AppID: app, Alias: "shipped", TemplateID: "B"}, // replaces
		} {
			if err := s.TemplateAliasSet(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		list, err := s.TemplateAliasList(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range list {
			got = append(got, a.AppID[len(a.AppID)-1:]+":"+a.Alias+"→"+a.TemplateID)
		}
		if want := "[1:paid→A 1:shipped→B]"; fmt.Sprint(got) != want {
			t.Fatalf("TemplateAliasList=%v, want %s", got, want)
		}
		if err := s.TemplateAliasDelete(ctx, app, "paid"); err != nil {
			t.Fatal(err)
		}
		if err := s.TemplateAliasDelete(ctx, app, "paid"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("TemplateAliasDelete twice: err=%v, want ErrNotFound", err)
		}
		// Aliases go with the app.
		if err := s.AppDelete(ctx, app); err != nil {
			t.Fatal(err)
		}
		if list, err := s.TemplateAliasList(ctx, app); err != nil || len(list) != 0 {
			t.Fatalf("aliases after AppDelete: %d, err=%v; want none", len(list), err)
		}
		if list, err := s.TemplateList(ctx, app); err != nil || len(list) != 0 {
			t.Fatalf("templates after AppDelete: %d, err=%v; want none", len(list), err)
		}
	})

	t.Run("FailTemplate", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := setup(t)
		u1, u2 := "oUSER1", "oUSER2"
		if _, err := s.CreditInsertBatch(ctx, []*store.CreditInsertParams{
			subscribeCredit(app, u1, "T", testNow.Add(-2*time.Minute)),
			subscribeCredit(app, u1, "T", testNow.Add(-time.Minute)),
		}); err != nil {
			t.Fatal(err)
		}
		m3 := newMessage(app, u2, "T", "")
		m3.WaitForCredit = true
		res := mustInsertMessages(ctx, t, s, newMessage(app, u1, "T", ""), newMessage(app, u1, "T", ""), m3)
		id1, id2, id3 := res[0].ID, res[1].ID, res[2].ID

		// m1: claimed, then queued again for a retry, keeping its credit.
		c := claimAt(ctx, t, s, "h", testNow, 1)
		if len(c) != 1 || c[0].ID != id1 || c[0].CreditID == 0 {
			t.Fatalf("first claim: %s", describe(c))
		}
		credit1 := c[0].CreditID
		mustFinish(ctx, t, s, &queue.FinishParams{ID: id1, Holder: "h", Now: testNow, State: "queued", RunAt: testNow.Add(time.Hour)})
		// m2: sending; m3: waiting for a credit.
		c = claimAt(ctx, t, s, "h", testNow, 2)
		if got := messageStates(c); fmt.Sprint(got) != "[sending waiting_credit]" {
			t.Fatalf("second claim states=%v (%s)", got, describe(c))
		}
		// Not of this template, or of another app: untouched.
		other := mustInsertMessages(ctx, t, s, newMessage(app, u1, "OTHER", ""), newMessage(app2, u1, "T", ""))

		later := testNow.Add(time.Minute)
		reason := "template T was deleted on WeChat's side"
		ids, err := queue.New(s).FailTemplate(ctx, app, "T", reason, later)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(ids), fmt.Sprint([]int64{id1, id3}); got != want {
			t.Fatalf("FailTemplate=%s, want %s", got, want)
		}
		for _, id := range []int64{id1, id3} {
			m := mustGetMessage(ctx, t, s, id)
			if m.State != "failed" || m.LastError != reason || m.CreditID != 0 {
				t.Fatalf("message %d after fail: state=%s last_error=%q credit=%d", id, m.State, m.LastError, m.CreditID)
			}
			checkTime(t, "UpdatedAt", m.UpdatedAt, later)
		}
		if cr := mustGetCredit(ctx, t, s, credit1); cr.UsesLeft != 1 {
			t.Fatalf("credit of the failed retry: UsesLeft=%d, want 1 (refunded)", cr.UsesLeft)
		}
		if m := mustGetMessage(ctx, t, s, id2); m.State != "sending" {
			t.Fatalf("sending message: state=%s, want sending (untouched)", m.State)
		}
		for _, r := range other {
			if m := mustGetMessage(ctx, t, s, r.ID); m.State != "queued" {
				t.Fatalf("message %d of another template or app: state=%s, want queued", r.ID, m.State)
			}
		}
		ids, err = queue.New(s).FailTemplate(ctx, app, "T", reason, later)
		if err != nil || len(ids) != 0 {
			t.Fatalf("FailTemplate again: ids=%v err=%v, want none", ids, err)
		}
	})
}
