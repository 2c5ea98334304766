package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
)

// Kinds as the ledger names them; the store only compares them, except that
// long_term is never decremented.
const (
	kindFormID    = "form_id"
	kindPrepayID  = "prepay_id"
	kindSubscribe = "subscribe"
	kindLongTerm  = "long_term"
)

var legacyKinds = []string{kindFormID, kindPrepayID}

// exerciseCredit checks the ledger methods: credits, subscribe counters and
// pushed events.
func exerciseCredit(t *testing.T, newDB NewDBFunc) {
	// setup gives a subtest a fresh database with apps 1 and 2.
	setup := func(t *testing.T) (context.Context, store.Driver, OpenFunc) {
		t.Helper()
		open := newDB(t)
		s := open(t)
		insertApp(t.Context(), t, s, testAppID(1))
		insertApp(t.Context(), t, s, testAppID(2))
		return t.Context(), s, open
	}
	app, app2 := testAppID(1), testAppID(2)
	const userA, userB, tpl, tpl2 = "oUserA", "oUserB", "TPL-1", "TPL-2"
	cutoff := testNow.Add(24 * time.Hour) // the ledger's Now + safety margin
	spendLegacy := func(user string) *store.CreditSpendParams {
		return &store.CreditSpendParams{AppID: app, OpenID: user, Kinds: legacyKinds, Cutoff: cutoff, Now: testNow}
	}

	t.Run("InsertDedupe", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		n := mustInsertCredits(ctx, t, s,
			formID(app, userA, "f1", testNow),
			formID(app, userA, "f2", testNow),
			formID(app, userA, "f1", testNow),   // repeated inside the batch
			prepayID(app, userA, "f1", testNow), // same value, another kind
			formID(app2, userA, "f1", testNow),  // same value, another app
			subscribe(app, userA, tpl, testNow), // subscribe credits have no value:
			subscribe(app, userA, tpl, testNow), // never duplicates
		)
		if got, want := n, 6; got != want {
			t.Fatalf("added=%d, want %d", got, want)
		}
		// Reported again (by the same or another user): all duplicates.
		if n := mustInsertCredits(ctx, t, s, formID(app, userA, "f2", testNow), formID(app, userB, "f1", testNow)); n != 0 {
			t.Fatalf("added again=%d, want 0", n)
		}
		if n := mustInsertCredits(ctx, t, s); n != 0 {
			t.Fatalf("empty batch added=%d", n)
		}
		checkStocks(ctx, t, s, &store.CreditStocksParams{AppID: app, Cutoff: cutoff},
			"wx0000000000000001//form_id/ credits=2 uses=2 rej=0",
			"wx0000000000000001//prepay_id/ credits=1 uses=3 rej=0",
			"wx0000000000000001//subscribe/TPL-1 credits=2 uses=2 rej=0")
	})

	t.Run("InsertAllOrNothing", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		_, err := s.CreditInsertBatch(ctx, []*store.CreditInsertParams{
			formID(app, userA, "f1", testNow),
			formID(testAppID(9), userA, "f2", testNow), // no such app
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("insert for a missing app: err=%v, want ErrNotFound", err)
		}
		bad := formID(app, userA, "f3", testNow)
		bad.Uses = 0
		if _, err := s.CreditInsertBatch(ctx, []*store.CreditInsertParams{formID(app, userA, "f4", testNow), bad}); err == nil {
			t.Fatal("insert with Uses=0: no error")
		}
		checkStocks(ctx, t, s, &store.CreditStocksParams{Cutoff: cutoff})
		// f1 was not stored, so it is new now.
		if n := mustInsertCredits(ctx, t, s, formID(app, userA, "f1", testNow)); n != 1 {
			t.Fatalf("added=%d, want 1", n)
		}
	})

	t.Run("SpendReturnsRow", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		p := prepayID(app, userA, "wx2025prepay0001", testNow)
		p.Source = "api"
		mustInsertCredits(ctx, t, s, p)
		now := testNow.Add(time.Hour)
		c, err := s.CreditSpend(ctx, &store.CreditSpendParams{AppID: app, OpenID: userA, Kinds: legacyKinds, Cutoff: cutoff, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if c.AppID != app || c.OpenID != userA || c.Kind != kindPrepayID || c.TemplateID != "" ||
			c.Value.Reveal() != "wx2025prepay0001" || c.Uses != 3 || c.UsesLeft != 2 || c.UseNumber() != 1 ||
			c.Source != "api" || c.DeadReason != "" {
			t.Fatalf("spent %+v", c)
		}
		checkTime(t, "ObtainedAt", c.ObtainedAt, testNow)
		checkTime(t, "ExpiresAt", c.ExpiresAt, testNow.Add(wxnotify.FormIDLifetime))
		checkTime(t, "SpentAt", c.SpentAt, now)
		got, err := s.CreditGet(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", c) || got.Value != c.Value {
			t.Fatalf("CreditGet=%+v, want %+v", got, c)
		}
		if _, err := s.CreditGet(ctx, c.ID+1000); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("CreditGet missing: err=%v", err)
		}
		// Subscribe credits come back without expiry.
		mustInsertCredits(ctx, t, s, subscribe(app, userA, tpl, testNow))
		c, err = s.CreditSpend(ctx, &store.CreditSpendParams{AppID: app, OpenID: userA, TemplateID: tpl,
			Kinds: []string{kindSubscribe}, Cutoff: cutoff, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if !c.ExpiresAt.IsZero() || c.Value != "" || c.TemplateID != tpl || c.UsesLeft != 0 {
			t.Fatalf("spent subscribe %+v", c)
		}
	})

	t.Run("OldestFirst", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		// Reported out of order; f1 and f1b tie on ObtainedAt (ids break it).
		mustInsertCredits(ctx, t, s, formID(app, userA, "f3", testNow.Add(2*time.Minute)))
		mustInsertCredits(ctx, t, s, formID(app, userA, "f1", testNow), formID(app, userA, "f1b", testNow))
		mustInsertCredits(ctx, t, s, formID(app, userA, "f2", testNow.Add(time.Minute)))
		var got []string
		for range 4 {
			got = append(got, mustSpend(ctx, t, s, spendLegacy(userA)).Value.Reveal())
		}
		if want := []string{"f1", "f1b", "f2", "f3"}; !slices.Equal(got, want) {
			t.Fatalf("spent %v, want %v", got, want)
		}
		mustNotSpend(ctx, t, s, spendLegacy(userA))
	})

	t.Run("KindPreference", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		// The prepay_id is older, but form_id comes first in Kinds.
		mustInsertCredits(ctx, t, s, prepayID(app, userA, "p1", testNow), formID(app, userA, "f1", testNow.Add(time.Hour)))
		if c := mustSpend(ctx, t, s, spendLegacy(userA)); c.Kind != kindFormID {
			t.Fatalf("spent %s first, want form_id", c.Kind)
		}
		if c := mustSpend(ctx, t, s, spendLegacy(userA)); c.Kind != kindPrepayID {
			t.Fatalf("spent %s second, want prepay_id", c.Kind)
		}
		// One-time subscribe before long-term.
		lt := subscribe(app, userA, tpl, testNow)
		lt.Kind = kindLongTerm
		mustInsertCredits(ctx, t, s, lt, subscribe(app, userA, tpl, testNow.Add(time.Hour)))
		p := &store.CreditSpendParams{AppID: app, OpenID: userA, TemplateID: tpl,
			Kinds: []string{kindSubscribe, kindLongTerm}, Cutoff: cutoff, Now: testNow}
		if c := mustSpend(ctx, t, s, p); c.Kind != kindSubscribe {
			t.Fatalf("spent %s first, want subscribe", c.Kind)
		}
		// Long-term is never used up.
		for range 5 {
			if c := mustSpend(ctx, t, s, p); c.Kind != kindLongTerm || c.UsesLeft != 1 {
				t.Fatalf("spent %s uses_left=%d, want long_term 1", c.Kind, c.UsesLeft)
			}
		}
	})

	t.Run("ExpiredNeverSpent", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		f := formID(app, userA, "f1", testNow)
		f.ExpiresAt = cutoff // expires exactly at the cutoff: not usable
		mustInsertCredits(ctx, t, s, f)
		mustNotSpend(ctx, t, s, spendLegacy(userA))
		checkStocks(ctx, t, s, &store.CreditStocksParams{Cutoff: cutoff})
		// One microsecond earlier it is.
		p := spendLegacy(userA)
		p.Cutoff = cutoff.Add(-time.Microsecond)
		mustSpend(ctx, t, s, p)
	})

	t.Run("DeadNeverSpent", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s, prepayID(app, userA, "p1", testNow))
		c := mustSpend(ctx, t, s, spendLegacy(userA))
		if err := s.CreditKill(ctx, c.ID, "41028"); err != nil {
			t.Fatal(err)
		}
		if err := s.CreditKill(ctx, c.ID, "41029"); err != nil {
			t.Fatal(err)
		}
		mustNotSpend(ctx, t, s, spendLegacy(userA))
		got, err := s.CreditGet(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.DeadReason != "41028" || got.UsesLeft != 2 {
			t.Fatalf("killed credit: DeadReason=%q UsesLeft=%d, want 41028 2", got.DeadReason, got.UsesLeft)
		}
		if err := s.CreditKill(ctx, c.ID+1000, "x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("kill missing: err=%v", err)
		}
	})

	t.Run("PrepaySpentThreeTimes", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s, prepayID(app, userA, "p1", testNow))
		for i := 1; i <= 3; i++ {
			if c := mustSpend(ctx, t, s, spendLegacy(userA)); c.UseNumber() != i {
				t.Fatalf("use %d: UseNumber=%d", i, c.UseNumber())
			}
		}
		mustNotSpend(ctx, t, s, spendLegacy(userA))
	})

	t.Run("NeverForSomeoneElse", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s, formID(app, userA, "f1", testNow), subscribe(app, userA, tpl, testNow))
		for name, p := range map[string]*store.CreditSpendParams{
			"OtherUser":      spendLegacy(userB),
			"OtherApp":       {AppID: app2, OpenID: userA, Kinds: legacyKinds, Cutoff: cutoff, Now: testNow},
			"OtherTemplate":  {AppID: app, OpenID: userA, TemplateID: tpl2, Kinds: []string{kindSubscribe}, Cutoff: cutoff, Now: testNow},
			"SubscribeByB":   {AppID: app, OpenID: userB, TemplateID: tpl, Kinds: []string{kindSubscribe}, Cutoff: cutoff, Now: testNow},
			"LegacyAsTpl":    {AppID: app, OpenID: userA, TemplateID: tpl, Kinds: legacyKinds, Cutoff: cutoff, Now: testNow},
			"SubscribeNoTpl": {AppID: app, OpenID: userA, Kinds: []string{kindSubscribe}, Cutoff: cutoff, Now: testNow},
		} {
			if c, err := s.CreditSpend(ctx, p); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: CreditSpend=%+v, %v; want ErrNotFound", name, c, err)
			}
		}
		// Both are still there for A.
		mustSpend(ctx, t, s, spendLegacy(userA))
		mustSpend(ctx, t, s, &store.CreditSpendParams{AppID: app, OpenID: userA, TemplateID: tpl,
			Kinds: []string{kindSubscribe}, Cutoff: cutoff, Now: testNow})
	})

	t.Run("SpendInvalid", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		for name, p := range map[string]*store.CreditSpendParams{
			"NoKinds":  {AppID: app, OpenID: userA, Cutoff: cutoff, Now: testNow},
			"NoOpenID": {AppID: app, Kinds: legacyKinds, Cutoff: cutoff, Now: testNow},
			"NoCutoff": {AppID: app, OpenID: userA, Kinds: legacyKinds, Now: testNow},
		} {
			if _, err := s.CreditSpend(ctx, p); err == nil || errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: err=%v, want a validation error", name, err)
			}
		}
	})

	t.Run("Refund", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s, formID(app, userA, "f1", testNow))
		c := mustSpend(ctx, t, s, spendLegacy(userA))
		mustNotSpend(ctx, t, s, spendLegacy(userA))
		if err := s.CreditRefund(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if again := mustSpend(ctx, t, s, spendLegacy(userA)); again.ID != c.ID || again.UseNumber() != 1 {
			t.Fatalf("after refund spent id=%d use=%d, want id=%d use=1", again.ID, again.UseNumber(), c.ID)
		}
		// Refunds never exceed the uses granted.
		for range 3 {
			if err := s.CreditRefund(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.CreditGet(ctx, c.ID); err != nil || got.UsesLeft != 1 {
			t.Fatalf("UsesLeft after refunds=%v, %v; want 1", got, err)
		}
		if err := s.CreditRefund(ctx, c.ID+1000); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("refund missing: err=%v", err)
		}
	})

	t.Run("KillTemplate", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s,
			subscribe(app, userA, tpl, testNow), subscribe(app, userA, tpl, testNow),
			subscribe(app, userA, tpl2, testNow), subscribe(app, userB, tpl, testNow),
			subscribe(app2, userA, tpl, testNow), formID(app, userA, "f1", testNow))
		n, err := s.CreditKillTemplate(ctx, &store.CreditKillTemplateParams{AppID: app, OpenID: userA, TemplateID: tpl, Reason: "cancelled"})
		if err != nil || n != 2 {
			t.Fatalf("CreditKillTemplate=%d, %v; want 2", n, err)
		}
		if _, err := s.CreditKillTemplate(ctx, &store.CreditKillTemplateParams{AppID: app, OpenID: userA, Reason: "x"}); err == nil {
			t.Fatal("CreditKillTemplate without a template: no error")
		}
		checkStocks(ctx, t, s, &store.CreditStocksParams{Cutoff: cutoff},
			"wx0000000000000001//form_id/ credits=1 uses=1 rej=0",
			"wx0000000000000001//subscribe/TPL-1 credits=1 uses=1 rej=0", // userB's
			"wx0000000000000001//subscribe/TPL-2 credits=1 uses=1 rej=0",
			"wx0000000000000002//subscribe/TPL-1 credits=1 uses=1 rej=0")
		// No openid: every user's credits of the template (it was deleted).
		if n, err := s.CreditKillTemplate(ctx, &store.CreditKillTemplateParams{AppID: app, TemplateID: tpl, Reason: "template_deleted"}); err != nil || n != 1 {
			t.Fatalf("CreditKillTemplate of every user=%d, %v; want 1 (userB's)", n, err)
		}
		checkStocks(ctx, t, s, &store.CreditStocksParams{Cutoff: cutoff},
			"wx0000000000000001//form_id/ credits=1 uses=1 rej=0",
			"wx0000000000000001//subscribe/TPL-2 credits=1 uses=1 rej=0",
			"wx0000000000000002//subscribe/TPL-1 credits=1 uses=1 rej=0")
	})

	t.Run("Purge", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		expired := formID(app, userA, "expired", testNow.Add(-8*24*time.Hour))
		usedLongAgo := formID(app, userA, "used-long-ago", testNow.Add(-2*time.Hour))
		usedJustNow := formID(app, userA, "used-just-now", testNow.Add(-time.Hour))
		mustInsertCredits(ctx, t, s, expired, usedLongAgo, usedJustNow,
			prepayID(app, userA, "dead", testNow), formID(app, userB, "alive", testNow), subscribe(app, userA, tpl, testNow))
		p := spendLegacy(userA)
		p.Now = testNow.Add(-2 * time.Hour)
		mustSpend(ctx, t, s, p) // used-long-ago
		p.Now = testNow.Add(-time.Minute)
		justNow := mustSpend(ctx, t, s, p)
		dead := mustSpend(ctx, t, s, p)
		if err := s.CreditKill(ctx, dead.ID, "41028"); err != nil {
			t.Fatal(err)
		}
		n, err := s.CreditPurge(ctx, &store.CreditPurgeParams{Now: testNow, SpentBefore: testNow.Add(-time.Hour)})
		if err != nil || n != 3 {
			t.Fatalf("CreditPurge=%d, %v; want 3 (expired, used long ago, dead)", n, err)
		}
		if _, err := s.CreditGet(ctx, dead.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("dead credit after purge: err=%v", err)
		}
		// used-just-now can still be refunded; the others are there.
		if err := s.CreditRefund(ctx, justNow.ID); err != nil {
			t.Fatalf("refund used-just-now: %v", err)
		}
		checkStocks(ctx, t, s, &store.CreditStocksParams{Cutoff: cutoff},
			"wx0000000000000001//form_id/ credits=2 uses=2 rej=0",
			"wx0000000000000001//subscribe/TPL-1 credits=1 uses=1 rej=0")
		if n, err := s.CreditPurge(ctx, &store.CreditPurgeParams{Now: testNow, SpentBefore: testNow}); err != nil || n != 0 {
			t.Fatalf("second purge=%d, %v; want 0", n, err)
		}
	})

	t.Run("PurgeMany", func(t *testing.T) {
		// More than one batch.
		t.Parallel()
		ctx, s, _ := setup(t)
		var batch []*store.CreditInsertParams
		for i := range 2500 {
			batch = append(batch, formID(app, userA, fmt.Sprintf("f%d", i), testNow.Add(-8*24*time.Hour)))
		}
		mustInsertCredits(ctx, t, s, batch...)
		if n, err := s.CreditPurge(ctx, &store.CreditPurgeParams{Now: testNow, SpentBefore: testNow}); err != nil || n != 2500 {
			t.Fatalf("CreditPurge=%d, %v; want 2500", n, err)
		}
	})

	t.Run("Stocks", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		soon := formID(app, userA, "soon", testNow)
		soon.ExpiresAt = cutoff.Add(time.Hour)
		mustInsertCredits(ctx, t, s, soon,
			formID(app, userA, "f2", testNow), formID(app, userB, "f3", testNow), prepayID(app, userB, "p1", testNow),
			subscribe(app, userA, tpl, testNow), subscribe(app, userB, tpl, testNow), subscribe(app2, userA, tpl2, testNow))
		for _, c := range []struct {
			tpl, choice string
			n           int64
		}{{tpl, "reject", 2}, {tpl, "ban", 1}, {tpl, "reject", 1}, {tpl, "accept", 5}, {tpl2, "filter", 1}} {
			if err := s.SubscribeChoiceAdd(ctx, &store.SubscribeChoiceAddParams{
				AppID: app, TemplateID: c.tpl, Choice: c.choice, Count: c.n, Now: testNow,
			}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SubscribeChoiceAdd(ctx, &store.SubscribeChoiceAddParams{
			AppID: testAppID(9), TemplateID: tpl, Choice: "reject", Count: 1, Now: testNow,
		}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("SubscribeChoiceAdd for a missing app: err=%v", err)
		}
		checkStocks(ctx, t, s, &store.CreditStocksParams{Cutoff: cutoff},
			"wx0000000000000001//form_id/ credits=3 uses=3 rej=0",
			"wx0000000000000001//prepay_id/ credits=1 uses=3 rej=0",
			"wx0000000000000001//subscribe/TPL-1 credits=2 uses=2 rej=4",
			"wx0000000000000002//subscribe/TPL-2 credits=1 uses=1 rej=0")
		checkStocks(ctx, t, s, &store.CreditStocksParams{AppID: app, OpenID: userB, Cutoff: cutoff},
			"wx0000000000000001/oUserB/form_id/ credits=1 uses=1 rej=0",
			"wx0000000000000001/oUserB/prepay_id/ credits=1 uses=3 rej=0",
			"wx0000000000000001/oUserB/subscribe/TPL-1 credits=1 uses=1 rej=4")
		checkStocks(ctx, t, s, &store.CreditStocksParams{Kind: kindSubscribe, TemplateID: tpl2, Cutoff: cutoff},
			"wx0000000000000002//subscribe/TPL-2 credits=1 uses=1 rej=0")
		checkStocks(ctx, t, s, &store.CreditStocksParams{Cutoff: cutoff, ExpiringBefore: cutoff.Add(2 * time.Hour)},
			"wx0000000000000001//form_id/ credits=1 uses=1 rej=0")
	})

	t.Run("Event", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		e := &store.Event{AppID: app, Type: wxnotify.EventSubscribeSent, OpenID: userA, TemplateID: tpl,
			Status: "success", MsgID: "1700000000000001", CreateTime: testNow, ReceivedAt: testNow.Add(time.Second)}
		if ok, err := s.EventInsert(ctx, e); err != nil || !ok {
			t.Fatalf("EventInsert=%v, %v", ok, err)
		}
		if ok, err := s.EventInsert(ctx, e); err != nil || ok {
			t.Fatalf("EventInsert repeated=%v, %v; want false", ok, err)
		}
		popup := &store.Event{AppID: app, Type: wxnotify.EventSubscribePopup, OpenID: userA, TemplateID: tpl,
			Status: "accept", PopupScene: "0", CreateTime: testNow, ReceivedAt: testNow}
		if ok, err := s.EventInsert(ctx, popup); err != nil || !ok {
			t.Fatalf("EventInsert popup=%v, %v", ok, err)
		}
		if _, err := s.EventInsert(ctx, &store.Event{AppID: testAppID(9), Type: "x", OpenID: userA, CreateTime: testNow, ReceivedAt: testNow}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("EventInsert for a missing app: err=%v", err)
		}
		got, err := s.EventListByMsgID(ctx, app, e.MsgID)
		if err != nil || len(got) != 1 {
			t.Fatalf("EventListByMsgID=%v, %v; want 1 event", got, err)
		}
		g := got[0]
		if g.ID == 0 || g.Type != e.Type || g.OpenID != userA || g.TemplateID != tpl || g.Status != "success" || g.MsgID != e.MsgID {
			t.Fatalf("event %+v", g)
		}
		checkTime(t, "CreateTime", g.CreateTime, testNow)
		checkTime(t, "ReceivedAt", g.ReceivedAt, testNow.Add(time.Second))
		if got, err := s.EventListByMsgID(ctx, app2, e.MsgID); err != nil || len(got) != 0 {
			t.Fatalf("EventListByMsgID of another app=%v, %v", got, err)
		}
		if got, err := s.EventListByMsgID(ctx, app, ""); err != nil || len(got) != 0 {
			t.Fatalf("EventListByMsgID empty msgid=%v, %v", got, err)
		}
	})

	t.Run("ConcurrentSpendExactlyOnce", func(t *testing.T) {
		// The check: spenders on separate Stores (connections) spend
		// 1,000 credits of one user; every use is taken exactly once.
		t.Parallel()
		ctx, s, open := setup(t)
		const credits = 1000
		var batch []*store.CreditInsertParams
		for i := range credits {
			batch = append(batch, formID(app, userA, fmt.Sprintf("f%04d", i), testNow.Add(time.Duration(i%10)*time.Second)))
			if len(batch) == 100 {
				mustInsertCredits(ctx, t, s, batch...)
				batch = nil
			}
		}
		mustInsertCredits(ctx, t, s, formID(app, userB, "other-user", testNow))
		uses := spendConcurrently(ctx, t, []store.Driver{open(t), open(t)}, 2, spendLegacy(userA))
		checkUses(t, uses, credits, 1)
		// B's credit is untouched.
		if c := mustSpend(ctx, t, s, spendLegacy(userB)); c.Value.Reveal() != "other-user" {
			t.Fatalf("B spent %s", wxnotify.Mask(c.Value.Reveal()))
		}
	})

	t.Run("ConcurrentPrepayThreeUses", func(t *testing.T) {
		t.Parallel()
		ctx, s, open := setup(t)
		stores := []store.Driver{open(t), open(t)}
		// Many prepay_ids: 3 uses each, no more, no fewer.
		var batch []*store.CreditInsertParams
		for i := range 50 {
			batch = append(batch, prepayID(app, userA, fmt.Sprintf("p%03d", i), testNow))
		}
		mustInsertCredits(ctx, t, s, batch...)
		checkUses(t, spendConcurrently(ctx, t, stores, 4, spendLegacy(userA)), 50, 3)
		// One prepay_id, three spenders racing once each for its 3 uses:
		// each gets one, although it may find the row locked by another
		// (ErrNotFound only when the user has no usable credit).
		for round := range 20 {
			mustInsertCredits(ctx, t, s, prepayID(app, userB, fmt.Sprintf("single%d", round), testNow))
			var (
				wg    sync.WaitGroup
				start = make(chan struct{})
				got   = make([]use, 3)
				errs  = make([]error, 3)
			)
			for i := range 3 {
				wg.Go(func() {
					<-start
					c, err := stores[i%len(stores)].CreditSpend(ctx, spendLegacy(userB))
					if errs[i] = err; err == nil {
						got[i] = use{c.ID, c.UseNumber()}
					}
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("round %d: spender %d: %v", round, i, err)
				}
			}
			checkUses(t, got, 1, 3)
			mustNotSpend(ctx, t, s, spendLegacy(userB))
		}
	})
}

// use names one use of one credit.
type use struct {
	id int64
	n  int
}

// spendConcurrently runs perStore spenders on each store, all spending with
// p until ErrNotFound, and returns every use taken.
func spendConcurrently(ctx context.Context, t *testing.T, stores []store.Driver, perStore int, p *store.CreditSpendParams) []use {
	t.Helper()
	var (
		mu    sync.Mutex
		uses  []use
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make(chan error, len(stores)*perStore)
	)
	for _, s := range stores {
		for range perStore {
			wg.Go(func() {
				<-start
				for {
					pp := *p
					c, err := s.CreditSpend(ctx, &pp)
					if errors.Is(err, store.ErrNotFound) {
						return
					} else if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					uses = append(uses, use{c.ID, c.UseNumber()})
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("CreditSpend: %v", err)
	}
	return uses
}

// checkUses checks that uses holds uses 1..perCredit of exactly credits
// credits, each once.
func checkUses(t *testing.T, uses []use, credits, perCredit int) {
	t.Helper()
	seen := map[use]int{}
	ids := map[int64]bool{}
	for _, u := range uses {
		seen[u]++
		ids[u.id] = true
		if u.n < 1 || u.n > perCredit {
			t.Errorf("credit %d: use number %d out of 1..%d", u.id, u.n, perCredit)
		}
	}
	for u, n := range seen {
		if n > 1 {
			t.Errorf("credit %d use %d taken %d times", u.id, u.n, n)
		}
	}
	if got, want := len(ids), credits; got != want {
		t.Errorf("%d credits spent, want %d", got, want)
	}
	if got, want := len(seen), credits*perCredit; got != want {
		t.Errorf("%d distinct uses, want %d (lost uses)", got, want)
	}
	if t.Failed() {
		t.FailNow()
	}
}

func formID(appID, openID, value string, obtained time.Time) *store.CreditInsertParams {
	return &store.CreditInsertParams{AppID: appID, OpenID: openID, Kind: kindFormID, Value: wxnotify.Secret(value),
		Uses: wxnotify.FormIDUses, ObtainedAt: obtained, ExpiresAt: obtained.Add(wxnotify.FormIDLifetime), Source: "miniprogram"}
}

func prepayID(appID, openID, value string, obtained time.Time) *store.CreditInsertParams {
	p := formID(appID, openID, value, obtained)
	p.Kind, p.Uses = kindPrepayID, wxnotify.PrepayIDUses
	return p
}

func subscribe(appID, openID, templateID string, obtained time.Time) *store.CreditInsertParams {
	return &store.CreditInsertParams{AppID: appID, OpenID: openID, Kind: kindSubscribe, TemplateID: templateID,
		Uses: 1, ObtainedAt: obtained, Source: "miniprogram"}
}

func mustInsertCredits(ctx context.Context, t *testing.T, s store.Executor, credits ...*store.CreditInsertParams) int {
	t.Helper()
	n, err := s.CreditInsertBatch(ctx, credits)
	if err != nil {
		t.Fatalf("CreditInsertBatch: %v", err)
	}
	return n
}

func mustSpend(ctx context.Context, t *testing.T, s store.Executor, p *store.CreditSpendParams) *store.Credit {
	t.Helper()
	c, err := s.CreditSpend(ctx, p)
	if err != nil {
		t.Fatalf("CreditSpend: %v", err)
	}
	return c
}

func mustNotSpend(ctx context.Context, t *testing.T, s store.Executor, p *store.CreditSpendParams) {
	t.Helper()
	if c, err := s.CreditSpend(ctx, p); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CreditSpend=%+v, %v; want ErrNotFound", c, err)
	}
}

// checkStocks compares CreditStocks with want, one "app/openid/kind/template
// credits=N uses=N rej=N" line per group.
func checkStocks(ctx context.Context, t *testing.T, s store.Executor, p *store.CreditStocksParams, want ...string) {
	t.Helper()
	stocks, err := s.CreditStocks(ctx, p)
	if err != nil {
		t.Fatalf("CreditStocks: %v", err)
	}
	got := []string{}
	for _, st := range stocks {
		got = append(got, fmt.Sprintf("%s/%s/%s/%s credits=%d uses=%d rej=%d",
			st.AppID, st.OpenID, st.Kind, st.TemplateID, st.Credits, st.Uses, st.Rejections))
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("CreditStocks:\n got %q\nwant %q", got, want)
	}
}
