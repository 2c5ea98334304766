package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/store"
)

// exerciseMessage checks the delivery queue, as package queue composes the
// driver's primitives: accept, claim with credit reservation, finish,
// recovery, expiry, cancel, listing, and concurrent claimers on separate
// Drivers.
func exerciseMessage(t *testing.T, newDB NewDBFunc) {
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

	t.Run("InsertGet", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		p := &store.MessageInsertParams{
			AppID: app, OpenID: userA, Kind: "subscribe", TemplateID: tpl,
			Data: []byte(`{"thing1":"你好","time2":"2025-03-01 20:00"}`),
			Page: "pages/index?id=1", MiniprogramState: "trial", Lang: "zh_CN", EmphasisKeyword: "thing1.DATA",
			RunAt: testNow.Add(time.Hour), ExpiresAt: testNow.Add(25 * time.Hour), WaitForCredit: true,
			IdempotencyKey: "order-1", BroadcastID: 7, ScheduleID: 9, Now: testNow,
		}
		bare := &store.MessageInsertParams{AppID: app, OpenID: userB, Kind: "template", TemplateID: tpl2,
			RunAt: testNow, Now: testNow}
		res := mustInsertMessages(ctx, t, s, p, bare)
		if !res[0].Created || !res[1].Created || res[0].ID == 0 || res[1].ID <= res[0].ID {
			t.Fatalf("results=%+v, want two created, ids ascending", res)
		}
		m := mustGetMessage(ctx, t, s, res[0].ID)
		if m.ID != res[0].ID || m.AppID != p.AppID || m.OpenID != p.OpenID || m.Kind != p.Kind ||
			m.TemplateID != p.TemplateID || m.Page != p.Page || m.MiniprogramState != p.MiniprogramState ||
			m.Lang != p.Lang || m.EmphasisKeyword != p.EmphasisKeyword || !m.WaitForCredit ||
			m.IdempotencyKey != p.IdempotencyKey || m.BroadcastID != 7 || m.ScheduleID != 9 {
			t.Errorf("MessageGet=%+v, want the fields of %+v", m, p)
		}
		checkJSON(t, "Data", m.Data, p.Data)
		if m.State != "queued" || m.Attempts != 0 || m.ClaimedBy != "" || m.CreditID != 0 || m.CreditValue != "" ||
			m.MsgID != "" || m.LastError != "" {
			t.Errorf("new message=%+v, want queued with nothing else set", m)
		}
		checkTime(t, "RunAt", m.RunAt, p.RunAt)
		checkTime(t, "ExpiresAt", m.ExpiresAt, p.ExpiresAt)
		checkTime(t, "CreatedAt", m.CreatedAt, testNow)
		checkTime(t, "UpdatedAt", m.UpdatedAt, testNow)
		checkTime(t, "LeaseUntil", m.LeaseUntil, time.Time{})

		m = mustGetMessage(ctx, t, s, res[1].ID)
		checkJSON(t, "nil Data", m.Data, []byte(`{}`))
		if m.IdempotencyKey != "" || m.BroadcastID != 0 || m.ScheduleID != 0 || m.WaitForCredit || !m.ExpiresAt.IsZero() {
			t.Errorf("bare message=%+v, want empty optional fields", m)
		}
		if _, err := s.MessageGet(ctx, res[1].ID+100); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("MessageGet unknown: err=%v, want ErrNotFound", err)
		}
		if a, err := s.MessageAttempts(ctx, res[0].ID); err != nil || a == nil || len(a) != 0 {
			t.Fatalf("MessageAttempts of a new message=%v, %v; want empty", a, err)
		}
		if res, err := s.MessageInsertMany(ctx, nil); err != nil || len(res) != 0 {
			t.Fatalf("MessageInsertMany(nil)=%v, %v", res, err)
		}
	})

	t.Run("NextDue", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		if next, err := s.MessageNextDue(ctx, testNow); err != nil || !next.IsZero() {
			t.Fatalf("NextDue of an empty queue=%v, %v; want zero", next, err)
		}
		later, expired, soon := newMessage(app, userA, tpl, ""), newMessage(app, userA, tpl, ""), newMessage(app, userA, tpl, "")
		later.RunAt = testNow.Add(time.Hour)
		expired.RunAt, expired.ExpiresAt = testNow.Add(-2*time.Hour), testNow.Add(-time.Hour)
		soon.RunAt = testNow.Add(time.Minute)
		mustInsertMessages(ctx, t, s, later, expired, soon)
		next, err := s.MessageNextDue(ctx, testNow)
		if err != nil {
			t.Fatal(err)
		}
		checkTime(t, "NextDue (the expired one skipped)", next, testNow.Add(time.Minute))
	})

	t.Run("InsertIdempotency", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		first := mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, "k1"), newMessage(app, userA, tpl, ""))
		res := mustInsertMessages(ctx, t, s,
			newMessage(app, userB, tpl2, "k1"), // taken by the first call: the first row wins
			newMessage(app, userA, tpl, "k2"),  // new
			newMessage(app, userA, tpl, "k2"),  // repeated inside the batch
			newMessage(app2, userA, tpl, "k1"), // the same key in another app
			newMessage(app, userA, tpl, ""),    // no key: always new
			newMessage(app, userA, tpl, ""),    //
			newMessage(app2, userA, tpl, "k1"), // repeated again
			newMessage(app, userA, tpl, "k3"))  // new, after the conflicts
		want := []bool{false, true, false, true, true, true, false, true}
		for i, r := range res {
			if r.Created != want[i] || r.ID == 0 {
				t.Errorf("result %d=%+v, want Created=%v", i, r, want[i])
			}
		}
		if res[0].ID != first[0].ID {
			t.Errorf("taken key: id %d, want the first message's %d", res[0].ID, first[0].ID)
		}
		if res[2].ID != res[1].ID || res[6].ID != res[3].ID {
			t.Errorf("key repeated in the batch: ids %d/%d and %d/%d, want equal", res[2].ID, res[1].ID, res[6].ID, res[3].ID)
		}
		distinct := map[int64]bool{}
		for _, r := range append(first, res...) {
			distinct[r.ID] = true
		}
		if got, want := len(distinct), 7; got != want {
			t.Errorf("%d distinct ids, want %d", got, want)
		}
		if m := mustGetMessage(ctx, t, s, first[0].ID); m.OpenID != userA || m.TemplateID != tpl {
			t.Errorf("the first message was overwritten: %+v", m)
		}
		checkCounts(ctx, t, s, &store.MessageCountsParams{}, map[string]int64{"queued": 7})
		checkCounts(ctx, t, s, &store.MessageCountsParams{AppID: app2}, map[string]int64{"queued": 1})
		// A replay of a stored key uses no id: the next message's id follows
		// the last one stored.
		last := mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, ""))[0].ID
		if r := mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, "k1"), newMessage(app, userA, tpl, "k3")); r[0].Created || r[1].Created {
			t.Fatalf("replays: %+v, want none created", r)
		}
		if next := mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, ""))[0].ID; next != last+1 {
			t.Errorf("id after two replays: %d, want %d (a replay used an id)", next, last+1)
		}
	})

	t.Run("InsertAllOrNothing", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		bad := newMessage(app, userA, tpl, "")
		bad.Kind = "carrier-pigeon"
		if _, err := s.MessageInsertMany(ctx, []*store.MessageInsertParams{newMessage(app, userA, tpl, "a"), bad}); err == nil {
			t.Fatal("MessageInsertMany with an invalid kind succeeded")
		}
		notJSON := newMessage(app, userA, tpl, "b")
		notJSON.Data = []byte(`{"thing1":`)
		if _, err := s.MessageInsertMany(ctx, []*store.MessageInsertParams{newMessage(app, userA, tpl, "c"), notJSON}); err == nil {
			t.Fatal("MessageInsertMany with malformed JSON data succeeded")
		}
		checkCounts(ctx, t, s, &store.MessageCountsParams{}, map[string]int64{})
		// The keys of the failed batches are free.
		if res := mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, "a"), newMessage(app, userA, tpl, "c")); !res[0].Created || !res[1].Created {
			t.Fatalf("keys of failed batches: %+v, want created", res)
		}
	})

	t.Run("ClaimOrderAndLimit", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s, longTermCredit(app, userA, tpl, testNow))
		var ps []*store.MessageInsertParams
		for _, offset := range []time.Duration{3, 1, 2, 1, 0} { // seconds before testNow
			p := newMessage(app, userA, tpl, "")
			p.RunAt = testNow.Add(-offset * time.Second)
			ps = append(ps, p)
		}
		res := mustInsertMessages(ctx, t, s, ps...)
		lease := testNow.Add(time.Minute)
		got := mustClaim(ctx, t, s, &queue.ClaimParams{
			Holder: "i1", Now: testNow, LeaseUntil: lease, Limit: 3, CreditCutoff: testNow.Add(time.Hour),
		})
		// Oldest run_at first; the tie between the 1-second ones by id.
		if ids, want := messageIDs(got), []int64{res[0].ID, res[2].ID, res[1].ID}; !slices.Equal(ids, want) {
			t.Fatalf("claimed %v, want %v", ids, want)
		}
		for _, m := range got {
			if m.State != "sending" || m.ClaimedBy != "i1" || m.Attempts != 1 || m.CreditID == 0 {
				t.Errorf("claimed %+v, want sending by i1, attempt 1, with a credit", m)
			}
			checkTime(t, "LeaseUntil", m.LeaseUntil, lease)
			checkTime(t, "UpdatedAt", m.UpdatedAt, testNow)
			checkJSON(t, "Data", m.Data, ps[0].Data)
			stored := mustGetMessage(ctx, t, s, m.ID)
			if stored.State != "sending" || stored.ClaimedBy != "i1" || stored.Attempts != 1 || stored.CreditID != m.CreditID {
				t.Errorf("stored %+v, want what the claim returned", stored)
			}
			checkTime(t, "stored LeaseUntil", stored.LeaseUntil, lease)
		}
		got = claimAt(ctx, t, s, "i2", testNow, 10)
		if ids, want := messageIDs(got), []int64{res[3].ID, res[4].ID}; !slices.Equal(ids, want) {
			t.Fatalf("second claim %v, want %v", ids, want)
		}
		if got := claimAt(ctx, t, s, "i2", testNow.Add(time.Hour), 10); len(got) != 0 {
			t.Fatalf("third claim %v, want none (the rest are sending)", messageIDs(got))
		}
		for _, p := range []*queue.ClaimParams{
			{Holder: "", Now: testNow, LeaseUntil: lease, Limit: 1, CreditCutoff: testNow},
			{Holder: "x", Now: testNow, LeaseUntil: lease, Limit: 0, CreditCutoff: testNow},
			{Holder: "x", Now: testNow, LeaseUntil: testNow, Limit: 1, CreditCutoff: testNow},
		} {
			if _, err := queue.New(s).Claim(ctx, p); err == nil {
				t.Errorf("Claim(%+v) succeeded, want a validation error", p)
			}
		}
	})

	t.Run("ClaimDelayed", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s, longTermCredit(app, userA, tpl, testNow))
		p := newMessage(app, userA, tpl, "")
		p.RunAt = testNow.Add(time.Hour)
		id := mustInsertMessages(ctx, t, s, p)[0].ID
		if got := claimAt(ctx, t, s, "i1", testNow.Add(time.Hour-time.Microsecond), 10); len(got) != 0 {
			t.Fatalf("claimed %v before it was due", messageIDs(got))
		}
		if got := claimAt(ctx, t, s, "i1", testNow.Add(time.Hour), 10); !slices.Equal(messageIDs(got), []int64{id}) {
			t.Fatalf("claimed %v when due, want [%d]", messageIDs(got), id)
		}
	})

	t.Run("Expire", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s, prepayCredit(app, userB, "p1", testNow))
		expiresAt := testNow.Add(time.Minute)
		waiting := newMessage(app, userA, tpl2, "")
		waiting.ExpiresAt, waiting.WaitForCredit = expiresAt, true
		retried := newLegacyMessage(app, userB, "")
		retried.ExpiresAt = expiresAt
		noCredit := newMessage(app, userA, tpl, "")
		noCredit.ExpiresAt = expiresAt
		expiring := newMessage(app, userA, tpl, "")
		expiring.ExpiresAt = expiresAt
		later := newMessage(app, userA, tpl, "")
		later.RunAt, later.ExpiresAt = testNow.Add(2*time.Hour), testNow.Add(3*time.Hour)
		res := mustInsertMessages(ctx, t, s, waiting, retried, noCredit, expiring, later)

		// waiting has no credit: waiting_credit; noCredit: no_credit
		// (terminal). retried takes a use of p1 and is queued again,
		// keeping it.
		got := claimAt(ctx, t, s, "i1", testNow, 3)
		if states := messageStates(got); !slices.Equal(states, []string{"waiting_credit", "sending", "no_credit"}) {
			t.Fatalf("claim: %s", describe(got))
		}
		creditID := got[1].CreditID
		mustFinish(ctx, t, s, &queue.FinishParams{ID: res[1].ID, Holder: "i1", Now: testNow, State: "queued",
			RunAt: testNow.Add(30 * time.Second)})
		if c := mustGetCredit(ctx, t, s, creditID); c.UsesLeft != 2 {
			t.Fatalf("p1 UsesLeft=%d while held by a queued retry, want 2", c.UsesLeft)
		}

		// At expires_at: never claimed (expiring and retried are due), and
		// moved by Expire.
		if got := claimAt(ctx, t, s, "i1", expiresAt, 10); len(got) != 0 {
			t.Fatalf("claimed %s at its expiry", describe(got))
		}
		if ids, err := queue.New(s).Expire(ctx, expiresAt.Add(-time.Microsecond)); err != nil || len(ids) != 0 {
			t.Fatalf("Expire before expiry=%v, %v; want none", ids, err)
		}
		ids, err := queue.New(s).Expire(ctx, expiresAt)
		if err != nil {
			t.Fatalf("Expire: %v", err)
		}
		if want := []int64{res[0].ID, res[1].ID, res[3].ID}; !slices.Equal(ids, want) {
			t.Fatalf("Expire=%v, want %v (waiting and queued; no_credit is terminal)", ids, want)
		}
		for _, id := range ids {
			m := mustGetMessage(ctx, t, s, id)
			if m.State != "expired" || m.CreditID != 0 || m.ClaimedBy != "" {
				t.Errorf("expired message %+v, want expired without credit", m)
			}
			checkTime(t, "UpdatedAt", m.UpdatedAt, expiresAt)
		}
		if c := mustGetCredit(ctx, t, s, creditID); c.UsesLeft != 3 {
			t.Errorf("p1 UsesLeft=%d after its message expired, want 3 (refunded)", c.UsesLeft)
		}
		if ids, err := queue.New(s).Expire(ctx, expiresAt); err != nil || len(ids) != 0 {
			t.Fatalf("Expire again=%v, %v; want none", ids, err)
		}
		if m := mustGetMessage(ctx, t, s, res[2].ID); m.State != "no_credit" {
			t.Fatalf("no_credit message became %s", m.State)
		}
		if m := mustGetMessage(ctx, t, s, res[4].ID); m.State != "queued" {
			t.Fatalf("later message %s, want queued", m.State)
		}
	})

	t.Run("ClaimReservesOldestCredit", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		cutoff := testNow.Add(time.Hour)
		expired := formIDCredit(app, userA, "f-expiring", testNow.Add(-7*24*time.Hour))
		expired.ExpiresAt = cutoff // at the cutoff: not usable
		mustInsertCredits(ctx, t, s,
			subscribeCredit(app, userA, tpl, testNow.Add(2*time.Second)),
			subscribeCredit(app, userA, tpl, testNow.Add(time.Second)), // oldest subscribe
			longTermCredit(app, userA, tpl, testNow),                   // older, but subscribe comes first
			prepayCredit(app, userA, "p-old", testNow.Add(-time.Hour)), // older, but form_id comes first
			formIDCredit(app, userA, "f-new", testNow.Add(time.Second)),
			formIDCredit(app, userA, "f-old", testNow),
			expired,
			// Not userA's (app, template) credits: never reserved for them.
			subscribeCredit(app, userB, tpl, testNow.Add(-time.Hour)),
			subscribeCredit(app2, userA, tpl, testNow.Add(-time.Hour)),
			subscribeCredit(app, userA, tpl2, testNow.Add(-time.Hour)),
			formIDCredit(app2, userA, "f-other-app", testNow.Add(-time.Hour)),
			formIDCredit(app, userB, "f-other-user", testNow.Add(-time.Hour)),
		)
		var ps []*store.MessageInsertParams
		for range 3 {
			ps = append(ps, newMessage(app, userA, tpl, ""))
		}
		for range 5 {
			ps = append(ps, newLegacyMessage(app, userA, ""))
		}
		res := mustInsertMessages(ctx, t, s, ps...)
		got := mustClaim(ctx, t, s, &queue.ClaimParams{
			Holder: "i1", Now: testNow, LeaseUntil: testNow.Add(time.Minute), Limit: 100, CreditCutoff: cutoff,
		})
		if !slices.Equal(messageIDs(got), resultIDs(res)) {
			t.Fatalf("claimed %v, want %v", messageIDs(got), resultIDs(res))
		}
		var reserved []string
		for _, m := range got {
			if m.State != "sending" {
				reserved = append(reserved, m.State)
				continue
			}
			c := mustGetCredit(ctx, t, s, m.CreditID)
			if c.AppID != app || c.OpenID != userA || m.CreditValue != c.Value.Reveal() {
				t.Errorf("message %d reserved %+v (value %q)", m.ID, c, m.CreditValue)
			}
			checkTime(t, "credit SpentAt", c.SpentAt, testNow)
			reserved = append(reserved, fmt.Sprintf("%s/%s/%s@%s", c.Kind, c.TemplateID, c.Value.Reveal(),
				c.ObtainedAt.Sub(testNow.Truncate(store.TimePrecision))))
		}
		want := []string{
			"subscribe/TPL-1/@1s", "subscribe/TPL-1/@2s", "long_term/TPL-1/@0s",
			"form_id//f-old@0s", "form_id//f-new@1s", "prepay_id//p-old@-1h0m0s", "prepay_id//p-old@-1h0m0s",
			"prepay_id//p-old@-1h0m0s",
		}
		if !slices.Equal(reserved, want) {
			t.Fatalf("reserved:\n got %q\nwant %q", reserved, want)
		}
		// Everything of userA's is spent but the long-term credit, which is
		// never decremented.
		checkStocks(ctx, t, s, &store.CreditStocksParams{AppID: app, OpenID: userA, Cutoff: cutoff},
			"wx0000000000000001/oUserA/long_term/TPL-1 credits=1 uses=1 rej=0",
			"wx0000000000000001/oUserA/subscribe/TPL-2 credits=1 uses=1 rej=0")
	})

	t.Run("NoCreditAndWaiting", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		plain := newMessage(app, userA, tpl, "")
		waiting := newMessage(app, userA, tpl, "")
		waiting.WaitForCredit = true
		legacyWaiting := newLegacyMessage(app, userB, "")
		legacyWaiting.WaitForCredit = true
		res := mustInsertMessages(ctx, t, s, plain, waiting, legacyWaiting)
		got := claimAt(ctx, t, s, "i1", testNow, 10)
		if states := messageStates(got); !slices.Equal(states, []string{"no_credit", "waiting_credit", "waiting_credit"}) {
			t.Fatalf("claim returned %v", states)
		}
		for _, m := range got {
			stored := mustGetMessage(ctx, t, s, m.ID)
			if stored.State != m.State || stored.Attempts != 0 || stored.ClaimedBy != "" || stored.CreditID != 0 ||
				stored.LastError == "" || !stored.LeaseUntil.IsZero() {
				t.Errorf("credit-less message stored as %+v", stored)
			}
		}
		requeue := func(now time.Time, want int64) {
			t.Helper()
			n, err := queue.New(s).RequeueWaiting(ctx, now, now.Add(time.Hour))
			if err != nil {
				t.Fatalf("RequeueWaiting: %v", err)
			} else if n != want {
				t.Fatalf("RequeueWaiting=%d, want %d", n, want)
			}
		}
		requeue(testNow, 0)
		// Credits that do not fit: another template, another user, another
		// app, a subscribe credit for the legacy message, one expiring
		// before the cutoff.
		short := formIDCredit(app, userB, "f-short", testNow.Add(-wxnotify.FormIDLifetime))
		short.ExpiresAt = testNow.Add(30 * time.Minute)
		mustInsertCredits(ctx, t, s, subscribeCredit(app, userA, tpl2, testNow), subscribeCredit(app, userB, tpl, testNow),
			subscribeCredit(app2, userA, tpl, testNow), short)
		requeue(testNow, 0)
		mustInsertCredits(ctx, t, s, subscribeCredit(app, userA, tpl, testNow))
		requeue(testNow.Add(time.Second), 1)
		if m := mustGetMessage(ctx, t, s, res[1].ID); m.State != "queued" || m.LastError != "" {
			t.Fatalf("requeued message %+v, want queued", m)
		}
		got = claimAt(ctx, t, s, "i1", testNow.Add(time.Second), 10)
		if len(got) != 1 || got[0].ID != res[1].ID || got[0].State != "sending" || got[0].CreditID == 0 {
			t.Fatalf("claim after requeue: %s", describe(got))
		}
		mustInsertCredits(ctx, t, s, prepayCredit(app, userB, "p1", testNow))
		requeue(testNow.Add(2*time.Second), 1)
		if m := mustGetMessage(ctx, t, s, res[2].ID); m.State != "queued" {
			t.Fatalf("legacy message %s after a prepay_id arrived, want queued", m.State)
		}
		if m := mustGetMessage(ctx, t, s, res[0].ID); m.State != "no_credit" {
			t.Fatalf("no_credit message became %s; it is terminal", m.State)
		}
	})

	t.Run("FinishLease", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s, longTermCredit(app, userA, tpl, testNow))
		res := mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, ""), newMessage(app, userA, tpl, ""))
		claimAt(ctx, t, s, "i1", testNow, 10)
		at := testNow.Add(time.Second)
		attempt := &store.Attempt{N: 1, At: at, ErrCode: 0, ErrMsg: "ok", LatencyMS: 12.5}
		done := &queue.FinishParams{ID: res[0].ID, Holder: "i2", Now: at.Add(time.Millisecond),
			State: "delivered", MsgID: "msg-1", Attempt: attempt}
		if applied := finishMany(ctx, t, s, done); applied[0] {
			t.Fatal("another holder's finish applied")
		}
		if m := mustGetMessage(ctx, t, s, res[0].ID); m.State != "sending" || m.ClaimedBy != "i1" {
			t.Fatalf("after a refused finish: %+v", m)
		}
		done.Holder = "i1"
		other := &queue.FinishParams{ID: res[1].ID, Holder: "i1", Now: at, State: "failed", LastError: "bad data",
			Attempt: &store.Attempt{At: at, ErrCode: 47003, ErrMsg: "argument invalid", Class: "permanent", LatencyMS: 3}}
		dup := *other
		dup.State = "delivered"
		if applied := finishMany(ctx, t, s, done, other, &dup); !slices.Equal(applied, []bool{true, true, false}) {
			t.Fatalf("applied=%v, want [true true false] (the repeated id applies once)", applied)
		}
		m := mustGetMessage(ctx, t, s, res[0].ID)
		if m.State != "delivered" || m.MsgID != "msg-1" || m.ClaimedBy != "" || !m.LeaseUntil.IsZero() || m.CreditID == 0 {
			t.Fatalf("delivered message %+v, want delivered, msgid, no lease, credit kept", m)
		}
		checkTime(t, "UpdatedAt", m.UpdatedAt, done.Now)
		if m := mustGetMessage(ctx, t, s, res[1].ID); m.State != "failed" || m.LastError != "bad data" {
			t.Fatalf("failed message %+v", m)
		}
		attempts, err := s.MessageAttempts(ctx, res[0].ID)
		if err != nil || len(attempts) != 1 {
			t.Fatalf("MessageAttempts=%v, %v; want one", attempts, err)
		}
		a := attempts[0]
		if a.MessageID != res[0].ID || a.N != 1 || a.ErrCode != 0 || a.ErrMsg != "ok" || a.Class != "" || a.LatencyMS != 12.5 {
			t.Fatalf("attempt %+v, want %+v", a, attempt)
		}
		checkTime(t, "Attempt.At", a.At, at)
		// N = 0 numbers the attempt with the message's attempts.
		if attempts, _ := s.MessageAttempts(ctx, res[1].ID); len(attempts) != 1 || attempts[0].N != 1 || attempts[0].ErrCode != 47003 {
			t.Fatalf("attempts of the failed message: %+v", attempts)
		}
		// Terminal: a second finish is refused.
		if applied := finishMany(ctx, t, s, done); applied[0] {
			t.Fatal("finish of a delivered message applied")
		}
		if applied := finishMany(ctx, t, s); len(applied) != 0 {
			t.Fatalf("empty finish=%v", applied)
		}
		for _, p := range []*queue.FinishParams{
			{ID: res[0].ID, Holder: "i1", Now: at, State: "sending"},
			{ID: res[0].ID, Holder: "i1", Now: at, State: "queued"}, // no RunAt
			{ID: res[0].ID, Holder: "", Now: at, State: "failed"},
			{ID: res[0].ID, Holder: "i1", Now: at, State: "failed", RefundCredit: true, KillCreditReason: "x"},
		} {
			if _, err := queue.New(s).Finish(ctx, []*queue.FinishParams{p}); err == nil {
				t.Errorf("Finish(%+v) succeeded, want a validation error", p)
			}
		}
	})

	t.Run("RetryKeepsCredit", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s, formIDCredit(app, userA, "f1", testNow), formIDCredit(app, userA, "f2", testNow.Add(time.Second)))
		id := mustInsertMessages(ctx, t, s, newLegacyMessage(app, userA, ""))[0].ID
		m := claimAt(ctx, t, s, "i1", testNow, 1)[0]
		if m.CreditValue != "f1" {
			t.Fatalf("reserved %q, want f1", m.CreditValue)
		}
		retryAt := testNow.Add(time.Minute)
		mustFinish(ctx, t, s, &queue.FinishParams{ID: id, Holder: "i1", Now: testNow, State: "queued", RunAt: retryAt,
			LastError: "system busy", Attempt: &store.Attempt{At: testNow, ErrCode: -1, ErrMsg: "system busy", Class: "retry"}})
		stored := mustGetMessage(ctx, t, s, id)
		if stored.State != "queued" || stored.CreditID != m.CreditID || stored.CreditValue != "f1" || stored.ClaimedBy != "" ||
			!stored.LeaseUntil.IsZero() || stored.LastError != "system busy" {
			t.Fatalf("retried message %+v, want queued, credit kept, lease cleared", stored)
		}
		checkTime(t, "RunAt", stored.RunAt, retryAt)
		if got := claimAt(ctx, t, s, "i1", testNow.Add(time.Second), 1); len(got) != 0 {
			t.Fatalf("claimed %s before the retry time", describe(got))
		}
		m2 := claimAt(ctx, t, s, "i2", retryAt, 1)[0]
		if m2.ID != id || m2.CreditID != m.CreditID || m2.CreditValue != "f1" || m2.Attempts != 2 || m2.ClaimedBy != "i2" {
			t.Fatalf("claim of the retry %+v, want the same credit, attempt 2", m2)
		}
		// f1's one use was taken once; f2 is untouched.
		checkStocks(ctx, t, s, &store.CreditStocksParams{AppID: app, OpenID: userA, Cutoff: testNow},
			"wx0000000000000001/oUserA/form_id/ credits=1 uses=1 rej=0")
		mustFinish(ctx, t, s, &queue.FinishParams{ID: id, Holder: "i2", Now: retryAt, State: "delivered", MsgID: "m",
			Attempt: &store.Attempt{At: retryAt, ErrMsg: "ok"}})
		attempts, err := s.MessageAttempts(ctx, id)
		if err != nil || len(attempts) != 2 || attempts[0].N != 1 || attempts[1].N != 2 || attempts[0].Class != "retry" {
			t.Fatalf("attempts %+v, %v; want 1 (retry) and 2", attempts, err)
		}
	})

	t.Run("KillCredit", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s, subscribeCredit(app, userA, tpl, testNow), subscribeCredit(app, userA, tpl, testNow.Add(time.Second)))
		id := mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, ""))[0].ID
		first := claimAt(ctx, t, s, "i1", testNow, 1)[0]
		mustFinish(ctx, t, s, &queue.FinishParams{ID: id, Holder: "i1", Now: testNow, State: "queued", RunAt: testNow,
			KillCreditReason: "errcode 43101", Attempt: &store.Attempt{At: testNow, ErrCode: 43101, Class: "credit"}})
		if c := mustGetCredit(ctx, t, s, first.CreditID); c.DeadReason != "errcode 43101" {
			t.Fatalf("killed credit DeadReason=%q", c.DeadReason)
		}
		if m := mustGetMessage(ctx, t, s, id); m.CreditID != 0 || m.CreditValue != "" || m.State != "queued" {
			t.Fatalf("message after kill %+v, want queued without credit", m)
		}
		second := claimAt(ctx, t, s, "i1", testNow, 1)[0]
		if second.State != "sending" || second.CreditID == 0 || second.CreditID == first.CreditID || second.Attempts != 2 {
			t.Fatalf("claim after kill %+v, want the next credit (first was %d)", second, first.CreditID)
		}
		mustFinish(ctx, t, s, &queue.FinishParams{ID: id, Holder: "i1", Now: testNow, State: "queued", RunAt: testNow,
			KillCreditReason: "errcode 43101"})
		// No credit left: no_credit.
		if got := claimAt(ctx, t, s, "i1", testNow, 1); len(got) != 1 || got[0].State != "no_credit" {
			t.Fatalf("claim with every credit killed: %s", describe(got))
		}
	})

	t.Run("RefundCredit", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s, prepayCredit(app, userA, "p1", testNow))
		res := mustInsertMessages(ctx, t, s, newLegacyMessage(app, userA, ""), newLegacyMessage(app, userA, ""))
		got := claimAt(ctx, t, s, "i1", testNow, 2)
		if got[0].CreditID != got[1].CreditID || got[0].CreditID == 0 {
			t.Fatalf("two messages did not share p1's uses: %s", describe(got))
		}
		if c := mustGetCredit(ctx, t, s, got[0].CreditID); c.UsesLeft != 1 {
			t.Fatalf("UsesLeft=%d after two reservations, want 1", c.UsesLeft)
		}
		// Both refunded in one batch: both uses come back.
		finishMany(ctx, t, s,
			&queue.FinishParams{ID: res[0].ID, Holder: "i1", Now: testNow, State: "failed", RefundCredit: true},
			&queue.FinishParams{ID: res[1].ID, Holder: "i1", Now: testNow, State: "queued", RunAt: testNow, RefundCredit: true})
		if c := mustGetCredit(ctx, t, s, got[0].CreditID); c.UsesLeft != 3 {
			t.Fatalf("UsesLeft=%d after two refunds, want 3", c.UsesLeft)
		}
		if m := mustGetMessage(ctx, t, s, res[0].ID); m.State != "failed" || m.CreditID != 0 {
			t.Fatalf("refunded message %+v, want failed without credit", m)
		}
		if m := claimAt(ctx, t, s, "i1", testNow, 1); len(m) != 1 || m[0].CreditID != got[0].CreditID {
			t.Fatalf("claim after refund: %s", describe(m))
		}
	})

	t.Run("ResolveAmbiguous", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s, longTermCredit(app, userA, tpl, testNow))
		res := mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, ""), newMessage(app, userA, tpl, ""),
			newMessage(app, userA, tpl2, ""))
		for range res {
			mustClaim(ctx, t, s, &queue.ClaimParams{Holder: "dead", Now: testNow,
				LeaseUntil: testNow.Add(time.Minute), Limit: 1, CreditCutoff: testNow})
		}
		if ids, _, err := queue.New(s).Recover(ctx, testNow.Add(time.Minute)); err != nil || len(ids) != 2 {
			t.Fatalf("Recover=%v, %v; want the two messages with a credit", ids, err)
		}
		// No event yet: stays ambiguous.
		if st, err := queue.New(s).ResolveAmbiguous(ctx, res[0].ID, testNow.Add(2*time.Minute)); err != nil || st != "" {
			t.Fatalf("resolve without an event=%q, %v", st, err)
		}
		sent := func(openID, templateID, msgID, status string, at time.Time) {
			e := &store.Event{AppID: app, Type: wxnotify.EventSubscribeSent, OpenID: openID, TemplateID: templateID,
				Status: status, MsgID: msgID, CreateTime: at, ReceivedAt: at}
			if _, err := s.EventInsert(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		sent(userB, tpl, "900", "success", testNow.Add(30*time.Second)) // another user
		sent(userA, tpl, "901", "success", testNow.Add(-time.Hour))     // long before the message
		sent(userA, tpl, "902", "success", testNow.Add(30*time.Second)) // this one
		if st, err := queue.New(s).ResolveAmbiguous(ctx, res[0].ID, testNow.Add(2*time.Minute)); err != nil || st != "delivered" {
			t.Fatalf("resolve=%q, %v; want delivered", st, err)
		}
		if m := mustGetMessage(ctx, t, s, res[0].ID); m.State != "delivered" || m.MsgID != "902" {
			t.Fatalf("resolved message %+v, want delivered with msgid 902", m)
		}
		// The event is used up: the second ambiguous message does not take it.
		if st, err := queue.New(s).ResolveAmbiguous(ctx, res[1].ID, testNow.Add(2*time.Minute)); err != nil || st != "" {
			t.Fatalf("second message resolved by a used event: %q, %v", st, err)
		}
		sent(userA, tpl, "903", "failed:user refuse", testNow.Add(40*time.Second))
		if st, err := queue.New(s).ResolveAmbiguous(ctx, res[1].ID, testNow.Add(2*time.Minute)); err != nil || st != "failed" {
			t.Fatalf("resolve with a failed event=%q, %v", st, err)
		}
		// Only ambiguous messages are touched.
		if st, err := queue.New(s).ResolveAmbiguous(ctx, res[0].ID, testNow.Add(3*time.Minute)); err != nil || st != "" {
			t.Fatalf("resolving a delivered message=%q, %v", st, err)
		}
	})

	t.Run("Recover", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s, longTermCredit(app, userA, tpl, testNow))
		res := mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, ""), newMessage(app, userA, tpl, ""),
			newMessage(app, userA, tpl, ""))
		claim := func(holder string, lease time.Duration) *store.Message {
			return mustClaim(ctx, t, s, &queue.ClaimParams{Holder: holder, Now: testNow,
				LeaseUntil: testNow.Add(lease), Limit: 1, CreditCutoff: testNow})[0]
		}
		short, long := claim("dead", time.Minute), claim("alive", 10*time.Minute)
		if ids, _, err := queue.New(s).Recover(ctx, testNow.Add(time.Minute-time.Microsecond)); err != nil || len(ids) != 0 {
			t.Fatalf("Recover before the lease ended=%v, %v", ids, err)
		}
		ids, resolved, err := queue.New(s).Recover(ctx, testNow.Add(time.Minute))
		if err != nil || !slices.Equal(ids, []int64{short.ID}) || resolved != 0 {
			t.Fatalf("Recover at the lease's end=%v, %d, %v; want [%d], 0 resolved", ids, resolved, err, short.ID)
		}
		m := mustGetMessage(ctx, t, s, short.ID)
		if m.State != "ambiguous" || m.ClaimedBy != "" || !m.LeaseUntil.IsZero() || !strings.Contains(m.LastError, "dead") {
			t.Fatalf("recovered message %+v, want ambiguous, no lease, last error naming the holder", m)
		}
		if m := mustGetMessage(ctx, t, s, long.ID); m.State != "sending" {
			t.Fatalf("message with a live lease: %s", m.State)
		}
		if m := mustGetMessage(ctx, t, s, res[2].ID); m.State != "queued" {
			t.Fatalf("unclaimed message: %s", m.State)
		}
		// The dead holder's late outcome is refused.
		if applied := finishMany(ctx, t, s, &queue.FinishParams{ID: short.ID, Holder: "dead", Now: testNow.Add(time.Hour),
			State: "delivered"}); applied[0] {
			t.Fatal("finish of a recovered message applied")
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s, prepayCredit(app, userA, "p1", testNow))
		waiting := newMessage(app, userB, tpl, "")
		waiting.WaitForCredit = true
		res := mustInsertMessages(ctx, t, s, newLegacyMessage(app, userA, ""), waiting, newLegacyMessage(app, userA, ""),
			newLegacyMessage(app, userA, ""), newMessage(app, userA, tpl, ""))
		// 0: retried, holding a use of p1; 1: waiting_credit; 2: sending;
		// 3: delivered; 4: queued.
		got := claimAt(ctx, t, s, "i1", testNow, 4)
		if states := messageStates(got); !slices.Equal(states, []string{"sending", "waiting_credit", "sending", "sending"}) {
			t.Fatalf("claim: %s", describe(got))
		}
		finishMany(ctx, t, s,
			&queue.FinishParams{ID: res[0].ID, Holder: "i1", Now: testNow, State: "queued", RunAt: testNow.Add(time.Hour)},
			&queue.FinishParams{ID: res[3].ID, Holder: "i1", Now: testNow, State: "delivered"})
		creditID := got[0].CreditID
		if c := mustGetCredit(ctx, t, s, creditID); c.UsesLeft != 0 {
			t.Fatalf("p1 UsesLeft=%d, want 0", c.UsesLeft)
		}
		at := testNow.Add(time.Minute)
		for _, i := range []int{0, 1, 4} {
			m, err := queue.New(s).Cancel(ctx, res[i].ID, at)
			if err != nil {
				t.Fatalf("Cancel %d: %v", i, err)
			}
			if m.ID != res[i].ID || m.State != "cancelled" || m.CreditID != 0 || m.ClaimedBy != "" {
				t.Fatalf("cancelled message %+v", m)
			}
			checkTime(t, "UpdatedAt", m.UpdatedAt, at)
			if stored := mustGetMessage(ctx, t, s, res[i].ID); stored.State != "cancelled" {
				t.Fatalf("stored state %s after cancel", stored.State)
			}
		}
		if c := mustGetCredit(ctx, t, s, creditID); c.UsesLeft != 1 {
			t.Fatalf("p1 UsesLeft=%d after cancelling the message holding a use, want 1", c.UsesLeft)
		}
		for i, want := range map[int]string{2: "sending", 3: "delivered", 0: "cancelled"} {
			m, err := queue.New(s).Cancel(ctx, res[i].ID, at)
			if !errors.Is(err, store.ErrConflict) {
				t.Fatalf("Cancel of a %s message: err=%v, want ErrConflict", want, err)
			}
			if m == nil || m.ID != res[i].ID || m.State != want {
				t.Fatalf("Cancel conflict returned %+v, want the %s row", m, want)
			}
		}
		if c := mustGetCredit(ctx, t, s, creditID); c.UsesLeft != 1 {
			t.Fatalf("p1 UsesLeft=%d after refused cancels, want 1", c.UsesLeft)
		}
		if _, err := queue.New(s).Cancel(ctx, res[4].ID+100, at); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Cancel unknown: err=%v, want ErrNotFound", err)
		}
	})

	t.Run("ListCountsPurge", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s, longTermCredit(app, userA, tpl, testNow))
		var ps []*store.MessageInsertParams
		for i := range 6 {
			p := newMessage(app, userA, tpl, "")
			if i%2 == 1 {
				p.OpenID = userB // no credit
			}
			if i < 3 {
				p.BroadcastID = 42
			}
			ps = append(ps, p)
		}
		ps = append(ps, newMessage(app2, userA, tpl, ""))
		res := mustInsertMessages(ctx, t, s, ps...)
		ids := resultIDs(res)
		// 0, 2, 4: sending (then 0 and 2 delivered); 1, 3, 5: no_credit;
		// 6 (app2): no_credit, since userA's credit is app 1's.
		claimAt(ctx, t, s, "i1", testNow, 100)
		finishAt := testNow.Add(time.Hour)
		finishMany(ctx, t, s,
			&queue.FinishParams{ID: ids[0], Holder: "i1", Now: finishAt, State: "delivered", Attempt: &store.Attempt{At: finishAt}},
			&queue.FinishParams{ID: ids[2], Holder: "i1", Now: finishAt, State: "delivered", Attempt: &store.Attempt{At: finishAt}})

		list := func(p *store.MessageListParams, want ...int64) {
			t.Helper()
			got, err := s.MessageList(ctx, p)
			if err != nil {
				t.Fatalf("MessageList(%+v): %v", p, err)
			}
			if want == nil {
				want = []int64{}
			}
			if !slices.Equal(messageIDs(got), want) {
				t.Fatalf("MessageList(%+v)=%v, want %v", p, messageIDs(got), want)
			}
		}
		list(&store.MessageListParams{Limit: 100}, ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0])
		list(&store.MessageListParams{}, ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]) // default limit
		list(&store.MessageListParams{AppIDs: []string{app}, Limit: 2}, ids[5], ids[4])
		list(&store.MessageListParams{AppIDs: []string{app}, BeforeID: ids[4], Limit: 2}, ids[3], ids[2])
		list(&store.MessageListParams{AppIDs: []string{app, app2}, Limit: 3}, ids[6], ids[5], ids[4])
		list(&store.MessageListParams{AppIDs: []string{}, Limit: 100}) // no apps: nothing
		list(&store.MessageListParams{AppIDs: []string{app2}, OpenID: userB, Limit: 100})
		list(&store.MessageListParams{OpenID: userB, Limit: 100}, ids[5], ids[3], ids[1])
		list(&store.MessageListParams{State: "delivered", Limit: 100}, ids[2], ids[0])
		list(&store.MessageListParams{BroadcastID: 42, Limit: 100}, ids[2], ids[1], ids[0])
		list(&store.MessageListParams{BroadcastID: 42, State: "no_credit", OpenID: userB, Limit: 100}, ids[1])
		if got, _ := s.MessageList(ctx, &store.MessageListParams{State: "sending", Limit: 1}); len(got) != 1 ||
			got[0].ClaimedBy != "i1" || got[0].CreditID == 0 {
			t.Fatalf("listed sending message: %s", describe(got))
		}

		checkCounts(ctx, t, s, &store.MessageCountsParams{},
			map[string]int64{"delivered": 2, "sending": 1, "no_credit": 4})
		checkCounts(ctx, t, s, &store.MessageCountsParams{AppID: app2}, map[string]int64{"no_credit": 1})
		checkCounts(ctx, t, s, &store.MessageCountsParams{AppID: app, BroadcastID: 42},
			map[string]int64{"delivered": 2, "no_credit": 1})
		checkCounts(ctx, t, s, &store.MessageCountsParams{BroadcastID: 43}, map[string]int64{})

		// no_credit rows were last updated at testNow, delivered ones at
		// finishAt; the sending one is never purged.
		purge := func(before time.Time, limit int, want int64) {
			t.Helper()
			n, err := s.MessagePurge(ctx, before, limit)
			if err != nil {
				t.Fatalf("MessagePurge: %v", err)
			} else if n != want {
				t.Fatalf("MessagePurge(%v, %d)=%d, want %d", before, limit, n, want)
			}
		}
		purge(testNow.Truncate(store.TimePrecision), 100, 0) // updated_at < before: strictly
		purge(testNow.Add(time.Second), 3, 3)
		purge(testNow.Add(time.Second), 3, 1)
		purge(testNow.Add(time.Second), 3, 0)
		checkCounts(ctx, t, s, &store.MessageCountsParams{}, map[string]int64{"delivered": 2, "sending": 1})
		purge(finishAt.Add(time.Second), 0, 0)
		purge(finishAt.Add(time.Second), 100, 2)
		if _, err := s.MessageGet(ctx, ids[0]); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("MessageGet of a purged message: err=%v, want ErrNotFound", err)
		}
		if a, err := s.MessageAttempts(ctx, ids[0]); err != nil || len(a) != 0 {
			t.Fatalf("attempts of a purged message: %v, %v", a, err)
		}
		list(&store.MessageListParams{Limit: 100}, ids[4])
		// Ids are never reused after a purge.
		if id := mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, ""))[0].ID; id <= ids[6] {
			t.Fatalf("new id %d after purging, want above %d", id, ids[6])
		}
	})

	t.Run("ConcurrentInsertSameKeys", func(t *testing.T) {
		// Two instances accept the same requests at once (a client retrying
		// against another instance): each key is stored once, both get its
		// id, and exactly one was told Created.
		t.Parallel()
		ctx, s, open := setup(t)
		keys, batch := 400, 50
		if s.Capabilities().SingleWriter && raceEnabled() { // see testConcurrentClaim
			keys = 100
		}
		stores := []store.Driver{s, open(t)}
		results := make([][]store.MessageInsertResult, len(stores))
		errs := make([]error, len(stores))
		var wg sync.WaitGroup
		for i, st := range stores {
			wg.Go(func() {
				for start := 0; start < keys; start += batch {
					var ps []*store.MessageInsertParams
					for k := start; k < start+batch; k++ {
						ps = append(ps, newMessage(app, userA, tpl, fmt.Sprintf("key-%d", k)), newMessage(app, userA, tpl, ""))
					}
					res, err := st.MessageInsertMany(ctx, ps)
					if err != nil {
						errs[i] = err
						return
					}
					results[i] = append(results[i], res...)
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("MessageInsertMany: %v", err)
			}
		}
		for k := range 2 * keys {
			a, b := results[0][k], results[1][k]
			if k%2 == 1 { // no key: both stored
				if !a.Created || !b.Created || a.ID == b.ID {
					t.Fatalf("keyless message %d: %+v and %+v, want two new rows", k/2, a, b)
				}
				continue
			}
			if a.ID != b.ID || a.Created == b.Created {
				t.Fatalf("key-%d: %+v and %+v, want one id, created once", k/2, a, b)
			}
		}
		checkCounts(ctx, t, s, &store.MessageCountsParams{}, map[string]int64{"queued": int64(3 * keys)})
	})

	t.Run("ConcurrentClaimExactlyOnce", func(t *testing.T) {
		t.Parallel()
		ctx, s, open := setup(t)
		testConcurrentClaim(ctx, t, s, open)
	})
}

// testConcurrentClaim runs 4 Drivers, as 4 instances, claiming and finishing
// 5,000 messages of 250 users. Most users have exactly one credit use per
// message, in several credits (legacy ones in form_ids and 3-use
// prepay_ids); a fifth have one long-term credit, which every claim of
// theirs contends for. Some attempts are retried, keeping or refunding
// their credit. Every message must be delivered exactly once, every use
// reserved once, and none lost.
//
// On a SingleWriter engine (SQLite), the 4 Drivers are 4 writers of one
// file, which wait for each other through busy_timeout; a claim or finish
// that still finds the file locked fails with SQLITE_BUSY and rolls back,
// and the worker tries again, as the delivery pipeline does. Under the race detector the transpiled
// SQLite runs some 30 times slower, so that case delivers 500 messages.
func testConcurrentClaim(ctx context.Context, t *testing.T, s store.Driver, open OpenFunc) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute) // a lost wake-up fails instead of hanging
	defer cancel()
	const (
		instances  = 4
		perUser    = 20
		claimBatch = 100
	)
	single := s.Capabilities().SingleWriter
	users := 250
	if single && raceEnabled() {
		users = 25
	}
	var (
		total       = users * perUser
		legacyUsers = users * 2 / 5 // 6 prepay_ids (3 uses) + 2 form_ids each; then 20 subscribe credits each
		longUsers   = users * 4 / 5 // from here: one long_term credit each
		app, tpl    = testAppID(1), "TPL-C"
	)
	user := func(u int) string { return fmt.Sprintf("oUser%03d", u) }
	var credits []*store.CreditInsertParams
	for u := range users {
		for i := range perUser {
			obtained := testNow.Add(time.Duration(i%7) * time.Second)
			switch {
			case u >= longUsers:
				if i == 0 {
					credits = append(credits, longTermCredit(app, user(u), tpl, obtained))
				}
			case u >= legacyUsers:
				credits = append(credits, subscribeCredit(app, user(u), tpl, obtained))
			case i < 6:
				credits = append(credits, prepayCredit(app, user(u), fmt.Sprintf("p-%s-%d", user(u), i), obtained))
			case i < 8:
				credits = append(credits, formIDCredit(app, user(u), fmt.Sprintf("f-%s-%d", user(u), i), obtained))
			}
		}
	}
	for chunk := range slices.Chunk(credits, 500) {
		mustInsertCredits(ctx, t, s, chunk...)
	}
	var msgs []*store.MessageInsertParams
	for i := range total {
		// The long-term users' messages come first, so that concurrent
		// claims all want their credits at once.
		u := longUsers + i%(users-longUsers)
		if long := (users - longUsers) * perUser; i >= long {
			u = (i - long) % longUsers
		}
		p := newMessage(app, user(u), tpl, fmt.Sprintf("k%d", i))
		if u < legacyUsers {
			p.Kind = "template"
		}
		msgs = append(msgs, p)
	}
	for chunk := range slices.Chunk(msgs, 500) {
		mustInsertMessages(ctx, t, s, chunk...)
	}

	userOf := map[string]int{}
	for u := range users {
		userOf[user(u)] = u
	}
	stores := []store.Driver{s}
	for len(stores) < instances {
		stores = append(stores, open(t))
	}
	type delivery struct {
		holder   string
		creditID int64
		value    string
		user     int
	}
	var (
		mu        sync.Mutex
		delivered = map[int64][]delivery{}
		count     int
		retried   int // SQLite: transactions that found the file locked
		done      = make(chan struct{})
		progress  = make(chan struct{}, 1)
		wg        sync.WaitGroup
		errs      = make(chan error, instances)
	)
	signal := func() {
		select {
		case progress <- struct{}{}:
		default:
		}
	}
	fail := func(err error) {
		errs <- err
		cancel()
	}
	// again reports whether a failed transaction may be tried again.
	again := func(err error) bool {
		if !single || ctx.Err() != nil || !strings.Contains(err.Error(), "SQLITE_BUSY") {
			return false
		}
		mu.Lock()
		retried++
		mu.Unlock()
		return true
	}
	for w, st := range stores {
		holder := fmt.Sprintf("instance-%d", w)
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				got, err := queue.New(st).Claim(ctx, &queue.ClaimParams{Holder: holder, Now: testNow,
					LeaseUntil: testNow.Add(time.Hour), Limit: claimBatch, CreditCutoff: testNow})
				if err != nil && again(err) {
					continue
				} else if err != nil {
					fail(fmt.Errorf("%s: claim: %w", holder, err))
					return
				}
				if len(got) == 0 {
					select {
					case <-done:
						return
					case <-progress:
					case <-ctx.Done():
						fail(fmt.Errorf("%s: %w", holder, ctx.Err()))
						return
					}
					continue
				}
				signal() // a claim that left a message queued released its locks
				var (
					fs   []*queue.FinishParams
					mine []delivery
				)
				for _, m := range got {
					if m.State != "sending" || m.ClaimedBy != holder || m.CreditID == 0 {
						fail(fmt.Errorf("%s: claimed %s, want sending with a credit (there is one use per message)",
							holder, describe([]*store.Message{m})))
						return
					}
					f := &queue.FinishParams{ID: m.ID, Holder: holder, Now: testNow, State: "delivered",
						MsgID: fmt.Sprint(m.ID), Attempt: &store.Attempt{At: testNow}}
					switch {
					case m.Attempts == 1 && m.ID%5 == 0: // retry, giving the use back
						f.State, f.RunAt, f.RefundCredit = "queued", testNow, true
					case m.Attempts == 1 && m.ID%7 == 0: // retry with the same credit
						f.State, f.RunAt = "queued", testNow
					}
					fs = append(fs, f)
					mine = append(mine, delivery{holder, m.CreditID, m.CreditValue, userOf[m.OpenID]})
				}
				applied, err := queue.New(st).Finish(ctx, fs)
				for err != nil && again(err) {
					applied, err = queue.New(st).Finish(ctx, fs)
				}
				if err != nil {
					fail(fmt.Errorf("%s: finish: %w", holder, err))
					return
				}
				signal()
				mu.Lock()
				for i, f := range fs {
					if !applied[i] {
						mu.Unlock()
						fail(fmt.Errorf("%s: finish of message %d refused", holder, f.ID))
						return
					}
					if f.State == "delivered" {
						delivered[f.ID] = append(delivered[f.ID], mine[i])
						count++
					}
				}
				if count == total {
					close(done)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	uses := map[int64]int{}
	perHolder := map[string]int{}
	for id, ds := range delivered {
		if len(ds) != 1 {
			t.Fatalf("message %d delivered %d times", id, len(ds))
		}
		d := ds[0]
		uses[d.creditID]++
		perHolder[d.holder]++
		limit := 1
		switch {
		case d.user >= longUsers:
			limit = perUser // never decremented
		case strings.HasPrefix(d.value, "p-"):
			limit = wxnotify.PrepayIDUses
		}
		if uses[d.creditID] > limit {
			t.Fatalf("credit %d (%q) reserved %d times, it has %d uses", d.creditID, d.value, uses[d.creditID], limit)
		}
		if d.value != "" && !strings.HasPrefix(d.value[2:], user(d.user)+"-") {
			t.Fatalf("message %d for %s delivered with another user's credit %q", id, user(d.user), d.value)
		}
	}
	if len(delivered) != total {
		t.Fatalf("%d messages delivered, want %d", len(delivered), total)
	}
	if len(uses) != len(credits) {
		t.Fatalf("%d credits used, want all %d", len(uses), len(credits))
	}
	checkCounts(ctx, t, s, &store.MessageCountsParams{}, map[string]int64{"delivered": int64(total)})
	// Only the long-term credits are left.
	checkStocks(ctx, t, s, &store.CreditStocksParams{AppID: app, Cutoff: testNow},
		fmt.Sprintf("%s//long_term/%s credits=%d uses=%d rej=0", app, tpl, users-longUsers, users-longUsers))
	t.Logf("delivered per instance: %v; transactions tried again after SQLITE_BUSY: %d", perHolder, retried)
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// newMessage is a subscribe message due at testNow, expiring a day later.
func newMessage(appID, openID, templateID, key string) *store.MessageInsertParams {
	return &store.MessageInsertParams{
		AppID: appID, OpenID: openID, Kind: "subscribe", TemplateID: templateID,
		Data: []byte(`{"thing1":"hello"}`), RunAt: testNow, ExpiresAt: testNow.Add(24 * time.Hour),
		IdempotencyKey: key, Now: testNow,
	}
}

// newLegacyMessage is a template (legacy) message due at testNow.
func newLegacyMessage(appID, openID, key string) *store.MessageInsertParams {
	p := newMessage(appID, openID, "LEGACY-TPL", key)
	p.Kind = "template"
	return p
}

func formIDCredit(appID, openID, value string, obtained time.Time) *store.CreditInsertParams {
	return &store.CreditInsertParams{AppID: appID, OpenID: openID, Kind: "form_id", Value: wxnotify.Secret(value),
		Uses: wxnotify.FormIDUses, ObtainedAt: obtained, ExpiresAt: obtained.Add(wxnotify.FormIDLifetime), Source: "test"}
}

func prepayCredit(appID, openID, value string, obtained time.Time) *store.CreditInsertParams {
	p := formIDCredit(appID, openID, value, obtained)
	p.Kind, p.Uses = "prepay_id", wxnotify.PrepayIDUses
	return p
}

func subscribeCredit(appID, openID, templateID string, obtained time.Time) *store.CreditInsertParams {
	return &store.CreditInsertParams{AppID: appID, OpenID: openID, Kind: "subscribe", TemplateID: templateID,
		Uses: 1, ObtainedAt: obtained, Source: "test"}
}

func longTermCredit(appID, openID, templateID string, obtained time.Time) *store.CreditInsertParams {
	p := subscribeCredit(appID, openID, templateID, obtained)
	p.Kind = "long_term"
	return p
}

func mustInsertMessages(ctx context.Context, t testing.TB, s store.Executor, ps ...*store.MessageInsertParams) []store.MessageInsertResult {
	t.Helper()
	res, err := s.MessageInsertMany(ctx, ps)
	if err != nil {
		t.Fatalf("MessageInsertMany: %v", err)
	}
	if len(res) != len(ps) {
		t.Fatalf("MessageInsertMany: %d results for %d messages", len(res), len(ps))
	}
	return res
}

func mustGetMessage(ctx context.Context, t *testing.T, s store.Executor, id int64) *store.Message {
	t.Helper()
	m, err := s.MessageGet(ctx, id)
	if err != nil {
		t.Fatalf("MessageGet %d: %v", id, err)
	}
	return m
}

func mustGetCredit(ctx context.Context, t *testing.T, s store.Executor, id int64) *store.Credit {
	t.Helper()
	c, err := s.CreditGet(ctx, id)
	if err != nil {
		t.Fatalf("CreditGet %d: %v", id, err)
	}
	return c
}

func mustClaim(ctx context.Context, t *testing.T, s store.Driver, p *queue.ClaimParams) []*store.Message {
	t.Helper()
	got, err := queue.New(s).Claim(ctx, p)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return got
}

// claimAt claims for holder at now, with a minute's lease and credits
// usable past now.
func claimAt(ctx context.Context, t *testing.T, s store.Driver, holder string, now time.Time, limit int) []*store.Message {
	t.Helper()
	return mustClaim(ctx, t, s, &queue.ClaimParams{
		Holder: holder, Now: now, LeaseUntil: now.Add(time.Minute), Limit: limit, CreditCutoff: now,
	})
}

func finishMany(ctx context.Context, t *testing.T, s store.Driver, ps ...*queue.FinishParams) []bool {
	t.Helper()
	applied, err := queue.New(s).Finish(ctx, ps)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if len(applied) != len(ps) {
		t.Fatalf("Finish: %d results for %d outcomes", len(applied), len(ps))
	}
	return applied
}

// mustFinish finishes one message, which must apply.
func mustFinish(ctx context.Context, t *testing.T, s store.Driver, p *queue.FinishParams) {
	t.Helper()
	if applied := finishMany(ctx, t, s, p); !applied[0] {
		t.Fatalf("Finish(%+v) not applied", p)
	}
}

func checkCounts(ctx context.Context, t *testing.T, s store.Executor, p *store.MessageCountsParams, want map[string]int64) {
	t.Helper()
	got, err := s.MessageCounts(ctx, p)
	if err != nil {
		t.Fatalf("MessageCounts: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("MessageCounts(%+v)=%v, want %v", p, got, want)
	}
}

// checkJSON compares JSON documents by value: PostgreSQL's jsonb does not
// keep the bytes.
func checkJSON(t *testing.T, name string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s=%q: %v", name, got, err)
		return
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: want %q: %v", name, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s=%s, want %s", name, got, want)
	}
}

func messageIDs(ms []*store.Message) []int64 {
	ids := []int64{}
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

func messageStates(ms []*store.Message) []string {
	states := []string{}
	for _, m := range ms {
		states = append(states, m.State)
	}
	return states
}

func resultIDs(res []store.MessageInsertResult) []int64 {
	ids := []int64{}
	for _, r := range res {
		ids = append(ids, r.ID)
	}
	return ids
}

// describe prints claimed messages for failures, without credit values.
func describe(ms []*store.Message) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "[id=%d state=%s attempts=%d holder=%q credit=%d] ", m.ID, m.State, m.Attempts, m.ClaimedBy, m.CreditID)
	}
	if len(ms) == 0 {
		return "none"
	}
	return b.String()
}

// MessageQueueBenchmark measures the queue's hot path on a fresh database
// from newDB: each round accepts 5,000 messages in batches of 256
// (MessageInsertMany), then one loop claims them 500 at a time with a
// credit each (queue.Claim) and records them delivered (queue.Finish)
// until the queue is empty. It reports insert, claim+finish and overall
// messages per second. Credits are inserted outside the timed part.
func MessageQueueBenchmark(b *testing.B, newDB NewDBFunc) {
	const (
		perRound    = 5000
		insertBatch = 256
		claimBatch  = 500
	)
	ctx := b.Context()
	s := newDB(b)(b)
	app, tpl := testAppID(1), "TPL-B"
	if err := s.AppInsert(ctx, &store.AppInsertParams{AppID: app, Name: "bench", SecretSealed: []byte("x"),
		TokenMode: "stable", Now: testNow}); err != nil {
		b.Fatal(err)
	}
	var insertTime, claimTime time.Duration
	b.ResetTimer()
	for round := range b.N {
		b.StopTimer()
		var credits []*store.CreditInsertParams
		msgs := make([]*store.MessageInsertParams, perRound)
		for i := range perRound {
			user := fmt.Sprintf("o%d-%d", round, i)
			credits = append(credits, subscribeCredit(app, user, tpl, testNow))
			msgs[i] = newMessage(app, user, tpl, fmt.Sprintf("r%d-%d", round, i))
			msgs[i].Data = []byte(`{"thing1":{"value":"你的订单已发货"},"time2":{"value":"2025-03-01 20:00"}}`)
		}
		for chunk := range slices.Chunk(credits, 1000) {
			if _, err := s.CreditInsertBatch(ctx, chunk); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()

		start := time.Now()
		for chunk := range slices.Chunk(msgs, insertBatch) {
			if _, err := s.MessageInsertMany(ctx, chunk); err != nil {
				b.Fatal(err)
			}
		}
		insertTime += time.Since(start)

		start = time.Now()
		claimed := 0
		for {
			got, err := queue.New(s).Claim(ctx, &queue.ClaimParams{Holder: "bench", Now: testNow,
				LeaseUntil: testNow.Add(time.Minute), Limit: claimBatch, CreditCutoff: testNow})
			if err != nil {
				b.Fatal(err)
			}
			if len(got) == 0 {
				break
			}
			fs := make([]*queue.FinishParams, len(got))
			for i, m := range got {
				if m.State != "sending" {
					b.Fatalf("claimed message %d is %s", m.ID, m.State)
				}
				fs[i] = &queue.FinishParams{ID: m.ID, Holder: "bench", Now: testNow, State: "delivered",
					MsgID: "m", Attempt: &store.Attempt{N: m.Attempts, At: testNow, ErrMsg: "ok", LatencyMS: 20}}
			}
			if _, err := queue.New(s).Finish(ctx, fs); err != nil {
				b.Fatal(err)
			}
			claimed += len(got)
		}
		claimTime += time.Since(start)
		if claimed != perRound {
			b.Fatalf("round %d: claimed %d, want %d", round, claimed, perRound)
		}
	}
	n := float64(b.N * perRound)
	b.ReportMetric(n/insertTime.Seconds(), "insert_msgs/s")
	b.ReportMetric(n/claimTime.Seconds(), "claim+finish_msgs/s")
	b.ReportMetric(n/(insertTime+claimTime).Seconds(), "msgs/s")
	b.ReportMetric(0, "ns/op") // a round is 5,000 messages; the rates above are the result
}
