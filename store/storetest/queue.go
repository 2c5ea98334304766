package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/store"
)

// exerciseQueue checks the rules package queue adds over the primitives:
// whatever ends a message writes exactly one webhook-outbox row per webhook
// of its app in the same transaction (and nothing else does), an outcome
// whose transaction fails changes nothing, OnEnd hears of each ended message
// after the commit, a zero Now is the database's clock, and the state
// machine (queue.CanMove).
func exerciseQueue(t *testing.T, newDB NewDBFunc) {
	// setup gives a subtest a fresh database with apps 1 (two webhooks) and
	// 2 (one), and a Queue on it whose OnEnd the returned outbox records.
	setup := func(t *testing.T) (context.Context, store.Driver, *queue.Queue, *outbox) {
		t.Helper()
		ctx := t.Context()
		s := newDB(t)(t)
		o := &outbox{s: s, hooks: map[string][]int64{}}
		for _, h := range []struct{ app, url string }{
			{testAppID(1), "https://a.example/1"}, {testAppID(1), "https://a.example/2"}, {testAppID(2), "https://b.example/1"},
		} {
			if _, err := s.AppGet(ctx, h.app); errors.Is(err, store.ErrNotFound) {
				insertApp(ctx, t, s, h.app)
			}
			id, err := s.WebhookInsert(ctx, &store.WebhookInsertParams{AppID: h.app, URL: h.url, SecretSealed: []byte("x"), Now: testNow})
			if err != nil {
				t.Fatalf("WebhookInsert: %v", err)
			}
			o.hooks[h.app] = append(o.hooks[h.app], id)
		}
		q := &queue.Queue{Store: s, OnEnd: func(e queue.Ended) { o.ended = append(o.ended, e) }}
		return ctx, s, q, o
	}
	app, app2 := testAppID(1), testAppID(2)
	const userA, userB, userC, tpl = "oUserA", "oUserB", "oUserC", "TPL-1"

	t.Run("ClaimNoCreditAndWaiting", func(t *testing.T) {
		t.Parallel()
		ctx, s, q, o := setup(t)
		mustInsertCredits(ctx, t, s, longTermCredit(app, userA, tpl, testNow))
		waiting := newMessage(app, userB, tpl, "")
		waiting.WaitForCredit = true
		ids := resultIDs(mustInsertMessages(ctx, t, s, newMessage(app, userB, tpl, ""), waiting, newMessage(app, userA, tpl, ""),
			newMessage(app2, userB, tpl, "")))
		got := mustClaimQ(ctx, t, q, &queue.ClaimParams{Holder: "i1", Now: testNow, LeaseUntil: testNow.Add(time.Minute), Limit: 10, CreditCutoff: testNow})
		if states := messageStates(got); !slices.Equal(states, []string{"no_credit", "waiting_credit", "sending", "no_credit"}) {
			t.Fatalf("claim: %s", describe(got))
		}
		// no_credit is an outcome; waiting_credit and sending are not.
		o.expect(ctx, t, o.row(app, ids[0], "no_credit"), o.row(app2, ids[3], "no_credit"))
		o.expectEnded(t, "no_credit", "no_credit")
		if m := mustGetMessage(ctx, t, s, ids[0]); m.LastError != queue.NoCreditError {
			t.Fatalf("no_credit message %+v, want last error %q", m, queue.NoCreditError)
		}
		// Requeued, the waiting message is claimed again: still no outcome.
		if n, err := q.RequeueWaiting(ctx, testNow, testNow); err != nil || n != 0 {
			t.Fatalf("RequeueWaiting=%d, %v; want 0", n, err)
		}
		mustInsertCredits(ctx, t, s, subscribeCredit(app, userB, tpl, testNow))
		if n, err := q.RequeueWaiting(ctx, testNow, testNow); err != nil || n != 1 {
			t.Fatalf("RequeueWaiting=%d, %v; want 1", n, err)
		}
		got = mustClaimQ(ctx, t, q, &queue.ClaimParams{Holder: "i1", Now: testNow, LeaseUntil: testNow.Add(time.Minute), Limit: 10, CreditCutoff: testNow})
		if len(got) != 1 || got[0].ID != ids[1] || got[0].State != "sending" {
			t.Fatalf("claim after requeue: %s", describe(got))
		}
		o.expect(ctx, t)
		o.expectEnded(t)
	})

	t.Run("ClaimLeavesBusyQueued", func(t *testing.T) {
		// A message whose user's only credit another transaction holds at
		// that instant is neither claimed nor ended: it stays queued.
		t.Parallel()
		ctx, s, q, o := setup(t)
		if !s.Capabilities().SharedByInstances {
			t.Skip("a single writer runs one transaction at a time: nothing is ever busy")
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second) // a lock wait fails instead of hanging
		defer cancel()
		mustInsertCredits(ctx, t, s, subscribeCredit(app, userA, tpl, testNow))
		id := mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, ""))[0].ID
		other := mustBegin(ctx, t, s)
		if r := reserve(ctx, t, other, &store.CreditReserveParams{AppID: app, OpenID: userA, TemplateID: tpl,
			Kinds: []string{"subscribe"}, Cutoff: testNow, Now: testNow}); r[0].ID == 0 {
			t.Fatal("the other transaction got no credit")
		}
		claim := &queue.ClaimParams{Holder: "i1", Now: testNow, LeaseUntil: testNow.Add(time.Minute), Limit: 10, CreditCutoff: testNow}
		if got := mustClaimQ(ctx, t, q, claim); len(got) != 0 {
			t.Fatalf("claim while the credit is busy: %s, want none", describe(got))
		}
		if m := mustGetMessage(ctx, t, s, id); m.State != "queued" || m.Attempts != 0 || m.LastError != "" {
			t.Fatalf("message %+v while its credit is busy, want queued as it was", m)
		}
		o.expect(ctx, t)
		o.expectEnded(t)
		if err := other.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if got := mustClaimQ(ctx, t, q, claim); len(got) != 1 || got[0].State != "sending" || got[0].CreditID == 0 {
			t.Fatalf("claim after the credit was released: %s, want it sending with the credit", describe(got))
		}
	})

	t.Run("Finish", func(t *testing.T) {
		t.Parallel()
		ctx, s, q, o := setup(t)
		mustInsertCredits(ctx, t, s, longTermCredit(app, userA, tpl, testNow), longTermCredit(app2, userA, tpl, testNow))
		var ps []*store.MessageInsertParams
		for range 6 {
			ps = append(ps, newMessage(app, userA, tpl, ""))
		}
		ids := resultIDs(mustInsertMessages(ctx, t, s, append(ps, newMessage(app2, userA, tpl, ""))...))
		claimAt(ctx, t, s, "i1", testNow, 10)
		at := testNow.Add(time.Second)
		applied, err := q.Finish(ctx, []*queue.FinishParams{
			{ID: ids[0], Holder: "i1", Now: at, State: "delivered", MsgID: "m0", Attempt: &store.Attempt{At: at, ErrMsg: "ok"}},
			{ID: ids[1], Holder: "i1", Now: at, State: "failed", LastError: "bad",
				Attempt: &store.Attempt{At: at, ErrCode: 47003, ErrMsg: "argument invalid", Class: "permanent"}},
			{ID: ids[2], Holder: "i1", Now: at, State: "ambiguous", LastError: "timeout"},
			{ID: ids[3], Holder: "i1", Now: at, State: "no_credit", RefundCredit: true},
			{ID: ids[4], Holder: "i1", Now: at, State: "queued", RetryAfter: time.Minute,
				Attempt: &store.Attempt{At: at, ErrCode: -1, ErrMsg: "busy", Class: "retry"}},
			{ID: ids[5], Holder: "other", Now: at, State: "delivered"}, // not its holder: skipped
			{ID: ids[6], Holder: "i1", Now: at, State: "delivered", MsgID: "m6"},
		})
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		if want := []bool{true, true, true, true, true, false, true}; !slices.Equal(applied, want) {
			t.Fatalf("applied=%v, want %v", applied, want)
		}
		o.expect(ctx, t, o.row(app, ids[0], "delivered"), o.row(app, ids[1], "failed"), o.row(app, ids[2], "ambiguous"),
			o.row(app, ids[3], "no_credit"), o.row(app2, ids[6], "delivered"))
		ended := o.ended
		o.expectEnded(t, "delivered", "failed", "ambiguous", "no_credit", "delivered")
		if e := ended[0]; e.Message.ID != ids[0] || e.Message.MsgID != "m0" || e.Attempt == nil || e.Attempt.N != 1 {
			t.Fatalf("OnEnd of the delivered message: %+v (attempt %+v)", e.Message, e.Attempt)
		}
		if e := ended[1]; e.Attempt == nil || e.Attempt.ErrCode != 47003 {
			t.Fatalf("OnEnd of the failed message: attempt %+v, want errcode 47003", e.Attempt)
		}
		m := mustGetMessage(ctx, t, s, ids[4])
		if m.State != "queued" || m.CreditID == 0 {
			t.Fatalf("retried message %+v, want queued with its credit", m)
		}
		checkTime(t, "retry RunAt", m.RunAt, at.Add(time.Minute))
		if a, err := s.MessageAttempts(ctx, ids[4]); err != nil || len(a) != 1 || a[0].N != 1 || a[0].Class != "retry" {
			t.Fatalf("attempts of the retry: %+v, %v", a, err)
		}
		// A second outcome of an ended message is refused and writes nothing.
		if applied, err := q.Finish(ctx, []*queue.FinishParams{{ID: ids[0], Holder: "i1", Now: at, State: "failed"}}); err != nil || applied[0] {
			t.Fatalf("Finish of a delivered message=%v, %v; want not applied", applied, err)
		}
		o.expect(ctx, t)
		o.expectEnded(t)
	})

	t.Run("FinishUncount", func(t *testing.T) {
		// A retry that does not count (45011) gives back the claim's attempt
		// but keeps its record: the calls are numbered on, the count is not.
		t.Parallel()
		ctx, s, q, _ := setup(t)
		mustInsertCredits(ctx, t, s, longTermCredit(app, userA, tpl, testNow))
		id := resultIDs(mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, "")))[0]
		at := testNow
		for i, uncount := range []bool{true, true, false} {
			claimAt(ctx, t, s, "i1", at, 10)
			at = at.Add(time.Second)
			applied, err := q.Finish(ctx, []*queue.FinishParams{{ID: id, Holder: "i1", Now: at, State: "queued",
				RetryAfter: time.Millisecond, Uncount: uncount,
				Attempt: &store.Attempt{At: at, ErrCode: 45011, ErrMsg: "minute quota", Class: "throttle"}}})
			if err != nil || !applied[0] {
				t.Fatalf("Finish %d: %v, %v", i, applied, err)
			}
			at = at.Add(time.Second)
		}
		if m := mustGetMessage(ctx, t, s, id); m.State != "queued" || m.Attempts != 1 {
			t.Fatalf("message after 2 uncounted and 1 counted retries: %+v, want queued with 1 attempt", m)
		}
		a, err := s.MessageAttempts(ctx, id)
		if err != nil || len(a) != 3 || a[0].N != 1 || a[1].N != 2 || a[2].N != 3 {
			t.Fatalf("attempts: %+v, %v; want 3 numbered 1..3", a, err)
		}
		if _, err := q.Finish(ctx, []*queue.FinishParams{{ID: id, Holder: "i1", Now: at, State: "failed", Uncount: true}}); err == nil {
			t.Fatal("Uncount with a terminal state accepted")
		}
	})

	t.Run("FinishAtomic", func(t *testing.T) {
		t.Parallel()
		ctx, s, q, o := setup(t)
		mustInsertCredits(ctx, t, s, formIDCredit(app, userA, "f1", testNow), formIDCredit(app, userA, "f2", testNow))
		ids := resultIDs(mustInsertMessages(ctx, t, s, newLegacyMessage(app, userA, ""), newLegacyMessage(app, userA, "")))
		claimed := claimAt(ctx, t, s, "i1", testNow, 10)
		unchanged := func() {
			t.Helper()
			for i, id := range ids {
				if m := mustGetMessage(ctx, t, s, id); m.State != "sending" || m.ClaimedBy != "i1" || m.CreditID != claimed[i].CreditID {
					t.Fatalf("message %+v after a failed Finish, want still sending by i1 with its credit", m)
				}
				if c := mustGetCredit(ctx, t, s, claimed[i].CreditID); c.UsesLeft != 0 || c.DeadReason != "" {
					t.Fatalf("credit %+v after a failed Finish, want reserved, neither killed nor refunded", c)
				}
			}
			o.expect(ctx, t)
			o.expectEnded(t)
		}
		// An element that fails Validate: nothing is applied.
		if _, err := q.Finish(ctx, []*queue.FinishParams{
			{ID: ids[0], Holder: "i1", Now: testNow, State: "delivered", RefundCredit: true, Attempt: &store.Attempt{At: testNow}},
			{ID: ids[1], Holder: "i1", Now: testNow, State: "sending"},
		}); err == nil {
			t.Fatal("Finish with an invalid element succeeded")
		}
		unchanged()
		// A statement that fails after the updates (an attempt stored
		// already): the transaction rolls back whole.
		if err := s.AttemptInsertMany(ctx, []*store.Attempt{{MessageID: ids[1], N: 1, At: testNow}}); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Finish(ctx, []*queue.FinishParams{
			{ID: ids[0], Holder: "i1", Now: testNow, State: "failed", KillCreditReason: "errcode 41028", Attempt: &store.Attempt{At: testNow}},
			{ID: ids[1], Holder: "i1", Now: testNow, State: "delivered", RefundCredit: true, Attempt: &store.Attempt{N: 1, At: testNow}},
		}); err == nil {
			t.Fatal("Finish whose attempt cannot be stored succeeded")
		} else {
			t.Logf("Finish whose attempt cannot be stored: %v", err)
		}
		unchanged()
		if a, err := s.MessageAttempts(ctx, ids[0]); err != nil || len(a) != 0 {
			t.Fatalf("attempts of a rolled back Finish: %+v, %v", a, err)
		}
	})

	t.Run("Expire", func(t *testing.T) {
		t.Parallel()
		ctx, s, q, o := setup(t)
		expiresAt := testNow.Add(time.Minute)
		waiting, queued, later := newMessage(app, userA, tpl, ""), newMessage(app2, userA, tpl, ""), newMessage(app, userA, tpl, "")
		waiting.ExpiresAt, waiting.WaitForCredit, queued.ExpiresAt = expiresAt, true, expiresAt
		ids := resultIDs(mustInsertMessages(ctx, t, s, waiting, queued, later))
		claimAt(ctx, t, s, "i1", testNow, 1) // waiting_credit: no outcome
		o.expect(ctx, t)
		got, err := q.Expire(ctx, expiresAt)
		if err != nil || !slices.Equal(got, ids[:2]) {
			t.Fatalf("Expire=%v, %v; want %v", got, err, ids[:2])
		}
		o.expect(ctx, t, o.row(app, ids[0], "expired"), o.row(app2, ids[1], "expired"))
		o.expectEnded(t, "expired", "expired")
		if got, err := q.Expire(ctx, expiresAt); err != nil || len(got) != 0 {
			t.Fatalf("Expire again=%v, %v; want none", got, err)
		}
		o.expect(ctx, t)
	})

	t.Run("ExpireInBatches", func(t *testing.T) {
		t.Parallel()
		ctx, s, q, o := setup(t)
		q.Batch = 2
		var ps []*store.MessageInsertParams
		for range 5 {
			p := newMessage(app, userA, tpl, "")
			p.ExpiresAt = testNow
			ps = append(ps, p)
		}
		ids := resultIDs(mustInsertMessages(ctx, t, s, ps...))
		if got, err := q.Expire(ctx, testNow); err != nil || !slices.Equal(got, ids) {
			t.Fatalf("Expire in batches of 2=%v, %v; want %v", got, err, ids)
		}
		var want []string
		for _, id := range ids {
			want = append(want, o.row(app, id, "expired")...)
		}
		o.expect(ctx, t, want)
	})

	t.Run("FailTemplate", func(t *testing.T) {
		t.Parallel()
		ctx, s, q, o := setup(t)
		ids := resultIDs(mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, ""), newMessage(app, userA, "OTHER", "")))
		got, err := q.FailTemplate(ctx, app, tpl, "deleted", testNow)
		if err != nil || !slices.Equal(got, ids[:1]) {
			t.Fatalf("FailTemplate=%v, %v; want %v", got, err, ids[:1])
		}
		o.expect(ctx, t, o.row(app, ids[0], "failed"))
		o.expectEnded(t, "failed")
		if m := o.payload(ctx, t, ids[0]); m.ErrMsg != "deleted" {
			t.Fatalf("webhook event %+v, want errmsg %q", m, "deleted")
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		ctx, s, q, o := setup(t)
		ids := resultIDs(mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, "")))
		if m, err := q.Cancel(ctx, ids[0], testNow); err != nil || m.State != "cancelled" {
			t.Fatalf("Cancel=%+v, %v", m, err)
		}
		o.expect(ctx, t, o.row(app, ids[0], "cancelled"))
		o.expectEnded(t, "cancelled")
		if _, err := q.Cancel(ctx, ids[0], testNow); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("Cancel again: err=%v, want ErrConflict", err)
		}
		if _, err := q.Cancel(ctx, ids[0]+100, testNow); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Cancel unknown: err=%v, want ErrNotFound", err)
		}
		o.expect(ctx, t)
		o.expectEnded(t)
	})

	t.Run("RecoverAndResolve", func(t *testing.T) {
		t.Parallel()
		ctx, s, q, o := setup(t)
		for _, u := range []string{userA, userB, userC} {
			mustInsertCredits(ctx, t, s, longTermCredit(app, u, tpl, testNow))
		}
		ids := resultIDs(mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, ""), newMessage(app, userB, tpl, ""),
			newMessage(app, userC, tpl, "")))
		claimAt(ctx, t, s, "dead", testNow, 10)
		sent := func(openID, msgID, status string) {
			t.Helper()
			at := testNow.Add(30 * time.Second)
			if _, err := s.EventInsert(ctx, &store.Event{AppID: app, Type: wxnotify.EventSubscribeSent, OpenID: openID,
				TemplateID: tpl, Status: status, MsgID: msgID, CreateTime: at, ReceivedAt: at}); err != nil {
				t.Fatal(err)
			}
		}
		sent(userA, "901", "success") // settles userA's message as it is recovered
		got, resolved, err := q.Recover(ctx, testNow.Add(time.Minute))
		if err != nil || !slices.Equal(got, ids) || resolved != 1 {
			t.Fatalf("Recover=%v, %d, %v; want %v, 1 resolved", got, resolved, err, ids)
		}
		// One outcome each: userA's is delivered at once, not ambiguous first.
		o.expect(ctx, t, o.row(app, ids[0], "delivered"), o.row(app, ids[1], "ambiguous"), o.row(app, ids[2], "ambiguous"))
		o.expectEnded(t, "delivered", "ambiguous", "ambiguous")
		if m := mustGetMessage(ctx, t, s, ids[0]); m.State != "delivered" || m.MsgID != "901" {
			t.Fatalf("message settled on recovery: %+v", m)
		}
		sent(userB, "902", "failed:user refuse")
		if st, err := q.ResolveAmbiguous(ctx, ids[1], testNow.Add(2*time.Minute)); err != nil || st != "failed" {
			t.Fatalf("ResolveAmbiguous=%q, %v; want failed", st, err)
		}
		o.expect(ctx, t, o.row(app, ids[1], "failed"))
		o.expectEnded(t, "failed")
		// Nothing to settle: no outcome.
		for _, id := range []int64{ids[1], ids[2], ids[2] + 100} {
			if st, err := q.ResolveAmbiguous(ctx, id, testNow.Add(2*time.Minute)); err != nil || st != "" {
				t.Fatalf("ResolveAmbiguous(%d)=%q, %v; want nothing", id, st, err)
			}
		}
		o.expect(ctx, t)
		o.expectEnded(t)
	})

	t.Run("InsertAndClaimOnDatabaseClock", func(t *testing.T) {
		t.Parallel()
		ctx, s, q, _ := setup(t)
		if res, err := q.Insert(ctx, nil); err != nil || res == nil || len(res) != 0 {
			t.Fatalf("Insert(nil)=%v, %v; want empty", res, err)
		}
		mustInsertCredits(ctx, t, s, longTermCredit(app, userA, tpl, testNow))
		clocked := newMessage(app, userA, tpl, "")
		clocked.Now, clocked.RunAt, clocked.ExpiresAt = time.Time{}, time.Time{}, time.Time{}
		early := newMessage(app, userA, tpl, "") // due before it was accepted: due now
		early.RunAt, early.ExpiresAt = testNow.Add(-time.Hour), time.Time{}
		kept := newMessage(app, userA, tpl, "")
		kept.RunAt = testNow.Add(time.Hour)
		before := time.Now()
		res, err := q.Insert(ctx, []*queue.InsertParams{
			{MessageInsertParams: *clocked, TTL: time.Hour},
			{MessageInsertParams: *early, TTL: 2 * time.Hour},
			{MessageInsertParams: *kept, TTL: time.Minute}, // ExpiresAt set: the TTL is not used
		})
		after := time.Now()
		if err != nil || len(res) != 3 || !res[0].Created || !res[1].Created || !res[2].Created {
			t.Fatalf("Insert=%+v, %v", res, err)
		}
		m := mustGetMessage(ctx, t, s, res[0].ID)
		if m.CreatedAt.Before(before.Add(-5*time.Second)) || m.CreatedAt.After(after.Add(5*time.Second)) {
			t.Fatalf("CreatedAt=%v with a zero Now, want the database's clock, near %v", m.CreatedAt, before.UTC())
		}
		checkTime(t, "RunAt (zero: Now)", m.RunAt, m.CreatedAt)
		checkTime(t, "ExpiresAt (Now+TTL)", m.ExpiresAt, m.CreatedAt.Add(time.Hour))
		m = mustGetMessage(ctx, t, s, res[1].ID)
		checkTime(t, "CreatedAt", m.CreatedAt, testNow)
		checkTime(t, "RunAt (before Now: Now)", m.RunAt, testNow)
		checkTime(t, "ExpiresAt (Now+TTL)", m.ExpiresAt, testNow.Add(2*time.Hour))
		m = mustGetMessage(ctx, t, s, res[2].ID)
		checkTime(t, "RunAt (kept)", m.RunAt, testNow.Add(time.Hour))
		checkTime(t, "ExpiresAt (kept)", m.ExpiresAt, kept.ExpiresAt)

		// A claim with a zero Now runs on the database's clock too: the
		// message accepted now is due, the others expired long ago (they
		// expire a few hours after testNow).
		got, err := q.Claim(ctx, &queue.ClaimParams{Holder: "i1", Limit: 10, LeaseTTL: time.Minute})
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		if ids := messageIDs(got); !slices.Equal(ids, []int64{res[0].ID}) {
			t.Fatalf("Claim on the database's clock=%s, want [%d]", describe(got), res[0].ID)
		}
		for _, m := range got {
			if m.State != "sending" || m.UpdatedAt.Before(before.Add(-5*time.Second)) ||
				!m.LeaseUntil.Equal(m.UpdatedAt.Add(time.Minute)) {
				t.Fatalf("claimed %+v, want sending now, with a lease of a minute", m)
			}
		}
		if _, err := q.Claim(ctx, &queue.ClaimParams{Holder: "i1", Limit: 10}); err == nil {
			t.Fatal("Claim without LeaseTTL or LeaseUntil succeeded")
		}
	})

	t.Run("CanMove", func(t *testing.T) {
		t.Parallel()
		const (
			queued, waiting, sending = wxnotify.MessageQueued, wxnotify.MessageWaitingCredit, wxnotify.MessageSending
			delivered, failed        = wxnotify.MessageDelivered, wxnotify.MessageFailed
			noCredit, expired        = wxnotify.MessageNoCredit, wxnotify.MessageExpired
			cancelled, ambiguous     = wxnotify.MessageCancelled, wxnotify.MessageAmbiguous
		)
		all := []wxnotify.MessageState{queued, waiting, sending, delivered, failed, noCredit, expired, cancelled, ambiguous}
		// The moves of queue's diagram, and Cancel's and FailTemplate's of a
		// waiting message.
		allowed := map[[2]wxnotify.MessageState]bool{}
		for _, m := range [][2]wxnotify.MessageState{
			{queued, sending}, {sending, delivered}, {sending, failed}, {sending, noCredit}, {sending, ambiguous},
			{sending, queued}, {queued, waiting}, {waiting, queued}, {queued, noCredit}, {queued, cancelled},
			{waiting, cancelled}, {queued, expired}, {waiting, expired}, {queued, failed}, {waiting, failed},
			{ambiguous, delivered}, {ambiguous, failed},
			{failed, queued}, {noCredit, queued}, {expired, queued}, // an operator's Retry
		} {
			allowed[m] = true
		}
		for _, from := range all {
			for _, to := range all {
				if got, want := queue.CanMove(from, to), allowed[[2]wxnotify.MessageState{from, to}]; got != want {
					t.Errorf("CanMove(%s, %s)=%v, want %v", from, to, got, want)
				}
			}
		}
	})
}

// outbox reads the webhook-outbox rows the queue writes, and what OnEnd was
// told.
type outbox struct {
	s     store.Driver
	hooks map[string][]int64 // the webhooks of each app
	rows  int64              // the rows seen so far
	ended []queue.Ended
	seen  map[int64]*store.WebhookOutbox // by message id, the last row seen
}

// row is the rows one outcome writes: one per webhook of the app.
func (o *outbox) row(appID string, messageID int64, state string) []string {
	var rows []string
	for _, h := range o.hooks[appID] {
		rows = append(rows, fmt.Sprintf("hook %d: message %d %s", h, messageID, wxnotify.WebhookEventName(wxnotify.MessageState(state))))
	}
	return rows
}

// expect checks that the rows written since the last call are exactly want.
func (o *outbox) expect(ctx context.Context, t *testing.T, want ...[]string) {
	t.Helper()
	// A claim far in the future takes every row written since the last one,
	// and leases them past it, so the next claim takes only newer rows.
	far := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	claimed, err := o.s.WebhookOutboxClaim(ctx, &store.WebhookOutboxClaimParams{Holder: "check", Now: far, LeaseUntil: far.Add(time.Hour), Limit: 1000})
	if err != nil {
		t.Fatalf("WebhookOutboxClaim: %v", err)
	}
	got := []string{}
	for _, r := range claimed {
		got = append(got, fmt.Sprintf("hook %d: message %d %s", r.WebhookID, r.MessageID, r.Event))
		var ev wxnotify.WebhookEvent
		if err := json.Unmarshal(r.Payload, &ev); err != nil {
			t.Fatalf("outbox row %d payload %q: %v", r.ID, r.Payload, err)
		}
		if ev.MessageID != r.MessageID || ev.Event != r.Event || wxnotify.WebhookEventName(ev.State) != r.Event {
			t.Errorf("outbox row %d: %s with payload %s", r.ID, r.Event, r.Payload)
		}
		if o.seen == nil {
			o.seen = map[int64]*store.WebhookOutbox{}
		}
		o.seen[r.MessageID] = r
	}
	wantRows := []string{}
	for _, w := range want {
		wantRows = append(wantRows, w...)
	}
	slices.Sort(got)
	slices.Sort(wantRows)
	if !slices.Equal(got, wantRows) {
		t.Fatalf("webhook outbox rows written:\n got %q\nwant %q", got, wantRows)
	}
	o.rows += int64(len(got))
	counts, err := o.s.WebhookOutboxCounts(ctx, 0)
	if err != nil {
		t.Fatalf("WebhookOutboxCounts: %v", err)
	}
	if counts["pending"] != o.rows {
		t.Fatalf("WebhookOutboxCounts=%v, want %d pending", counts, o.rows)
	}
}

// payload returns the webhook event of the last row seen for a message.
func (o *outbox) payload(ctx context.Context, t *testing.T, messageID int64) wxnotify.WebhookEvent {
	t.Helper()
	r := o.seen[messageID]
	if r == nil {
		t.Fatalf("no outbox row seen for message %d", messageID)
	}
	var ev wxnotify.WebhookEvent
	if err := json.Unmarshal(r.Payload, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// expectEnded checks what OnEnd was told since the last call, in order.
func (o *outbox) expectEnded(t *testing.T, states ...string) {
	t.Helper()
	got := []string{}
	for _, e := range o.ended {
		if string(e.State) != e.Message.State {
			t.Errorf("OnEnd: Ended.State %s, message state %s", e.State, e.Message.State)
		}
		got = append(got, string(e.State))
	}
	if states == nil {
		states = []string{}
	}
	if !slices.Equal(got, states) {
		t.Fatalf("OnEnd told of %v, want %v", got, states)
	}
	o.ended = nil
}

func mustClaimQ(ctx context.Context, t *testing.T, q *queue.Queue, p *queue.ClaimParams) []*store.Message {
	t.Helper()
	got, err := q.Claim(ctx, p)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return got
}
