package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
)

// exercisePrimitives checks the queue's primitive operations one by one, as
// package queue composes them: MessageLockDue, MessageClaimMany,
// CreditReserveMany, MessageUpdateMany, AttemptInsertMany, EventFindSent and
// MessageRequeueWaiting.
func exercisePrimitives(t *testing.T, newDB NewDBFunc) {
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
	const userA, userB, userC, tpl, tpl2 = "oUserA", "oUserB", "oUserC", "TPL-1", "TPL-2"
	subscribeKinds := []string{string(wxnotify.CreditSubscribe), string(wxnotify.CreditLongTerm)}
	legacyKinds := []string{string(wxnotify.CreditFormID), string(wxnotify.CreditPrepayID)}

	t.Run("MessageLockDueOrderAndLimit", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		var ps []*store.MessageInsertParams
		for _, offset := range []time.Duration{-3 * time.Second, -time.Second, -time.Second, 0, time.Microsecond} {
			p := newMessage(app, userA, tpl, "")
			p.RunAt = testNow.Add(offset)
			ps = append(ps, p)
		}
		expired := newMessage(app, userA, tpl, "")
		expired.RunAt, expired.ExpiresAt = testNow.Add(-time.Hour), testNow // expires_at at Now: not due
		noExpiry := newMessage(app2, userA, tpl, "")
		noExpiry.RunAt, noExpiry.ExpiresAt = testNow.Add(-time.Second/2), time.Time{}
		waiting, sending := newMessage(app, userA, tpl, ""), newMessage(app, userA, tpl, "")
		waiting.RunAt, sending.RunAt = testNow.Add(-time.Hour), testNow.Add(-time.Hour)
		ids := resultIDs(mustInsertMessages(ctx, t, s, append(ps, expired, noExpiry, waiting, sending)...))
		setState(ctx, t, s, ids[7], "waiting_credit")
		claimMany(ctx, t, s, "h", testNow.Add(time.Minute), store.MessageClaim{ID: ids[8]})

		withTx(ctx, t, s, func(tx store.Executor) {
			got, err := tx.MessageLockDue(ctx, &store.MessageLockDueParams{Now: testNow, Limit: 3})
			if err != nil {
				t.Fatalf("MessageLockDue: %v", err)
			}
			// Oldest run_at first; the tie between the 1-second ones by id.
			if want := []int64{ids[0], ids[1], ids[2]}; !slices.Equal(messageIDs(got), want) {
				t.Fatalf("MessageLockDue limit 3=%v, want %v", messageIDs(got), want)
			}
			for _, m := range got {
				if m.State != "queued" || m.Attempts != 0 || m.ClaimedBy != "" || m.AppID != app || m.OpenID != userA {
					t.Errorf("locked %+v, want the queued row", m)
				}
			}
			checkJSON(t, "Data", got[0].Data, ps[0].Data)
			got, err = tx.MessageLockDue(ctx, &store.MessageLockDueParams{Now: testNow, Limit: 100})
			if err != nil {
				t.Fatalf("MessageLockDue: %v", err)
			}
			if want := []int64{ids[0], ids[1], ids[2], ids[6], ids[3]}; !slices.Equal(messageIDs(got), want) {
				t.Fatalf("MessageLockDue=%v, want %v (not: due later, expired, waiting, sending)", messageIDs(got), want)
			}
		})
		// Locking changes nothing.
		checkCounts(ctx, t, s, &store.MessageCountsParams{}, map[string]int64{"queued": 7, "waiting_credit": 1, "sending": 1})
		if m := mustGetMessage(ctx, t, s, ids[0]); m.Attempts != 0 || m.ClaimedBy != "" {
			t.Fatalf("after MessageLockDue: %+v", m)
		}
	})

	t.Run("MessageLockDueSkipsLocked", func(t *testing.T) {
		t.Parallel()
		ctx, s, open := setup(t)
		if !s.Capabilities().SharedByInstances {
			t.Skip("a single writer runs one transaction at a time")
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second) // a lock wait fails instead of hanging
		defer cancel()
		ids := resultIDs(mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, ""), newMessage(app, userA, tpl, ""),
			newMessage(app, userA, tpl, "")))
		lock := func(tx store.Executor, limit int) []int64 {
			t.Helper()
			got, err := tx.MessageLockDue(ctx, &store.MessageLockDueParams{Now: testNow, Limit: limit})
			if err != nil {
				t.Fatalf("MessageLockDue: %v", err)
			}
			return messageIDs(got)
		}
		tx1, tx2 := mustBegin(ctx, t, s), mustBegin(ctx, t, open(t))
		got1, got2 := lock(tx1, 1), lock(tx2, 1)
		if !slices.Equal(got1, ids[:1]) || !slices.Equal(got2, ids[1:2]) {
			t.Fatalf("two transactions locked %v and %v, want %v and %v", got1, got2, ids[:1], ids[1:2])
		}
		if err := tx1.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		// Released: the first is due again; the second is still tx2's own.
		if got := lock(mustBegin(ctx, t, s), 10); !slices.Equal(got, []int64{ids[0], ids[2]}) {
			t.Fatalf("a third transaction locked %v, want %v", got, []int64{ids[0], ids[2]})
		}
		if got := lock(tx2, 10); !slices.Equal(got, []int64{ids[1]}) {
			t.Fatalf("tx2 locked %v again, want %v (its own, the others are the third's)", got, ids[1:2])
		}
	})

	t.Run("MessageClaimMany", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s, formIDCredit(app, userA, "f1", testNow))
		f1 := reserve(ctx, t, s, &store.CreditReserveParams{AppID: app, OpenID: userA, Kinds: legacyKinds, Cutoff: testNow, Now: testNow})[0]
		ids := resultIDs(mustInsertMessages(ctx, t, s, newLegacyMessage(app, userA, ""), newMessage(app, userA, tpl, ""),
			newMessage(app, userA, tpl, "")))
		lease := testNow.Add(time.Minute)
		if err := s.MessageClaimMany(ctx, &store.MessageClaimManyParams{Holder: "", LeaseUntil: lease, Now: testNow,
			Claims: []store.MessageClaim{{ID: ids[2]}}}); err == nil {
			t.Fatal("MessageClaimMany without Holder succeeded")
		}
		if err := s.MessageClaimMany(ctx, &store.MessageClaimManyParams{Holder: "h", LeaseUntil: testNow, Now: testNow,
			Claims: []store.MessageClaim{{ID: ids[2]}}}); err == nil {
			t.Fatal("MessageClaimMany with LeaseUntil = Now succeeded")
		}
		claimMany(ctx, t, s, "h1", lease, store.MessageClaim{ID: ids[0], CreditID: f1.ID, CreditValue: f1.Value}, store.MessageClaim{ID: ids[1]})
		m := mustGetMessage(ctx, t, s, ids[0])
		if m.State != "sending" || m.ClaimedBy != "h1" || m.Attempts != 1 || m.CreditID != f1.ID || m.CreditValue != "f1" {
			t.Fatalf("claimed %+v, want sending by h1, attempt 1, credit f1", m)
		}
		checkTime(t, "LeaseUntil", m.LeaseUntil, lease)
		checkTime(t, "UpdatedAt", m.UpdatedAt, testNow)
		if m := mustGetMessage(ctx, t, s, ids[1]); m.State != "sending" || m.Attempts != 1 || m.CreditID != 0 {
			t.Fatalf("claimed without a credit: %+v", m)
		}
		if m := mustGetMessage(ctx, t, s, ids[2]); m.State != "queued" {
			t.Fatalf("message left out of the claim: %+v", m)
		}
		// A retry keeps its credit: CreditID 0 leaves it as it is.
		update(ctx, t, s, &store.MessageUpdateParams{ID: ids[0], Holder: "h1", State: "queued", RunAt: testNow, Now: testNow})
		later := testNow.Add(time.Second)
		claimManyAt(ctx, t, s, "h2", later, later.Add(time.Minute), store.MessageClaim{ID: ids[0]})
		if m := mustGetMessage(ctx, t, s, ids[0]); m.State != "sending" || m.ClaimedBy != "h2" || m.Attempts != 2 ||
			m.CreditID != f1.ID || m.CreditValue != "f1" {
			t.Fatalf("claimed retry %+v, want sending by h2, attempt 2, credit f1 kept", m)
		}
	})

	t.Run("CreditReserveMany", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		cutoff := testNow.Add(time.Hour)
		atCutoff := formIDCredit(app, userA, "f-at-cutoff", testNow.Add(-7*24*time.Hour))
		atCutoff.ExpiresAt = cutoff // expires at the cutoff: not usable
		mustInsertCredits(ctx, t, s,
			longTermCredit(app, userA, tpl, testNow.Add(-time.Hour)),     // older, but Kinds put subscribe first
			subscribeCredit(app, userA, tpl, testNow.Add(2*time.Second)), //
			subscribeCredit(app, userA, tpl, testNow.Add(time.Second)),   // the oldest subscribe
			subscribeCredit(app, userB, tpl, testNow),
			longTermCredit(app, userB, tpl, testNow.Add(time.Second)),
			prepayCredit(app, userA, "p-old", testNow.Add(-time.Hour)),
			formIDCredit(app, userA, "f-new", testNow.Add(time.Second)),
			formIDCredit(app, userA, "f-old", testNow),
			atCutoff,
			// Not userA's (app, template) credits.
			subscribeCredit(app2, userA, tpl, testNow.Add(-time.Hour)),
			subscribeCredit(app, userA, tpl2, testNow.Add(-time.Hour)),
			formIDCredit(app, userC, "f-other-user", testNow.Add(-time.Hour)),
		)
		sub := func(openID, templateID string, kinds ...string) *store.CreditReserveParams {
			return &store.CreditReserveParams{AppID: app, OpenID: openID, TemplateID: templateID, Kinds: kinds, Cutoff: cutoff, Now: testNow}
		}
		ps := []*store.CreditReserveParams{
			sub(userA, tpl, subscribeKinds...),        // subscribe @1s
			sub(userA, tpl, subscribeKinds...),        // subscribe @2s: sees the first use
			sub(userA, tpl, subscribeKinds...),        // long_term
			sub(userA, tpl, subscribeKinds...),        // long_term again: never decremented
			sub(userB, tpl, "long_term", "subscribe"), // the order of Kinds decides
			sub(userA, "", legacyKinds...),            // f-old
			sub(userA, "", legacyKinds...),            // f-new
			sub(userA, "", legacyKinds...),            // p-old, use 1
			sub(userA, "", "prepay_id"),               // p-old, use 2
			sub(userA, tpl2, "long_term"),             // none: userA's tpl2 credit is a subscribe one
			sub(userA, "OTHER", subscribeKinds...),    // none
			sub(userC, "", "prepay_id"),               // none: userC has a form_id only
		}
		var got []store.CreditReserved
		withTx(ctx, t, s, func(tx store.Executor) { got = reserve(ctx, t, tx, ps...) })
		var desc []string
		for i, r := range got {
			if r.Busy {
				t.Errorf("result %d Busy with no concurrent transaction", i)
			}
			if r.ID == 0 {
				desc = append(desc, "none")
				continue
			}
			c := mustGetCredit(ctx, t, s, r.ID)
			if c.AppID != app || c.OpenID != ps[i].OpenID || r.Value != c.Value.Reveal() {
				t.Errorf("result %d=%+v: credit %+v", i, r, c)
			}
			checkTime(t, "SpentAt", c.SpentAt, testNow)
			desc = append(desc, fmt.Sprintf("%s/%s/%s@%s", c.Kind, c.TemplateID, c.Value.Reveal(),
				c.ObtainedAt.Sub(testNow.Truncate(store.TimePrecision))))
		}
		want := []string{
			"subscribe/TPL-1/@1s", "subscribe/TPL-1/@2s", "long_term/TPL-1/@-1h0m0s", "long_term/TPL-1/@-1h0m0s",
			"long_term/TPL-1/@1s", "form_id//f-old@0s", "form_id//f-new@1s", "prepay_id//p-old@-1h0m0s",
			"prepay_id//p-old@-1h0m0s", "none", "none", "none",
		}
		if !slices.Equal(desc, want) {
			t.Fatalf("reserved:\n got %q\nwant %q", desc, want)
		}
		if got[2].ID != got[3].ID {
			t.Fatalf("two uses of one long-term credit: %d and %d, want the same credit", got[2].ID, got[3].ID)
		}
		if c := mustGetCredit(ctx, t, s, got[2].ID); c.UsesLeft != 1 {
			t.Fatalf("long_term UsesLeft=%d after two reservations, want 1 (never decremented)", c.UsesLeft)
		}
		if c := mustGetCredit(ctx, t, s, got[7].ID); c.UsesLeft != wxnotify.PrepayIDUses-2 {
			t.Fatalf("prepay_id UsesLeft=%d after two reservations, want %d", c.UsesLeft, wxnotify.PrepayIDUses-2)
		}
		if res, err := s.CreditReserveMany(ctx, nil); err != nil || len(res) != 0 {
			t.Fatalf("CreditReserveMany(nil)=%v, %v", res, err)
		}
		// A rolled back reservation gives its use back.
		tx := mustBegin(ctx, t, s)
		if r := reserve(ctx, t, tx, sub(userB, tpl, "subscribe")); r[0].ID == 0 {
			t.Fatal("userB's subscribe credit was not reserved")
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if r := reserve(ctx, t, s, sub(userB, tpl, "subscribe")); r[0].ID == 0 {
			t.Fatal("userB's subscribe credit is gone after a rolled back reservation")
		}
	})

	t.Run("CreditReserveManyBusy", func(t *testing.T) {
		t.Parallel()
		ctx, s, open := setup(t)
		if !s.Capabilities().SharedByInstances {
			t.Skip("a single writer runs one transaction at a time: nothing is ever busy")
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second) // a lock wait fails instead of hanging
		defer cancel()
		mustInsertCredits(ctx, t, s, subscribeCredit(app, userA, tpl, testNow))
		p := &store.CreditReserveParams{AppID: app, OpenID: userA, TemplateID: tpl, Kinds: subscribeKinds, Cutoff: testNow, Now: testNow}
		none := &store.CreditReserveParams{AppID: app, OpenID: userB, TemplateID: tpl, Kinds: subscribeKinds, Cutoff: testNow, Now: testNow}
		tx1, tx2 := mustBegin(ctx, t, s), mustBegin(ctx, t, open(t))
		if r := reserve(ctx, t, tx1, p); r[0].ID == 0 || r[0].Busy {
			t.Fatalf("first transaction: %+v, want the credit", r[0])
		}
		r := reserve(ctx, t, tx2, p, none)
		if r[0].ID != 0 || !r[0].Busy {
			t.Fatalf("second transaction while the first holds the only credit: %+v, want none taken, Busy", r[0])
		}
		if r[1].ID != 0 || r[1].Busy {
			t.Fatalf("second transaction, user without credits: %+v, want none taken, not Busy", r[1])
		}
		if err := tx1.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if r := reserve(ctx, t, tx2, p); r[0].ID == 0 || r[0].Busy {
			t.Fatalf("second transaction after the first rolled back: %+v, want the credit", r[0])
		}
	})

	t.Run("MessageUpdateMany", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		mustInsertCredits(ctx, t, s, formIDCredit(app, userA, "f1", testNow), formIDCredit(app, userA, "f2", testNow.Add(time.Second)))
		cs := reserve(ctx, t, s,
			&store.CreditReserveParams{AppID: app, OpenID: userA, Kinds: legacyKinds, Cutoff: testNow, Now: testNow},
			&store.CreditReserveParams{AppID: app, OpenID: userA, Kinds: legacyKinds, Cutoff: testNow, Now: testNow})
		ids := resultIDs(mustInsertMessages(ctx, t, s, newLegacyMessage(app, userA, ""), newLegacyMessage(app, userA, ""),
			newMessage(app, userA, tpl, ""), newMessage(app, userA, tpl, ""), newMessage(app, userA, tpl, ""),
			newMessage(app, userA, tpl, "")))
		lease := testNow.Add(time.Minute)
		claimMany(ctx, t, s, "h1", lease,
			store.MessageClaim{ID: ids[0], CreditID: cs[0].ID, CreditValue: cs[0].Value},
			store.MessageClaim{ID: ids[1], CreditID: cs[1].ID, CreditValue: cs[1].Value},
			store.MessageClaim{ID: ids[2]}, store.MessageClaim{ID: ids[5]})
		// ids[3] and ids[4] stay queued.

		at := testNow.Add(time.Second)
		retryAt := testNow.Add(time.Hour)
		ps := []*store.MessageUpdateParams{
			{ID: ids[0], Holder: "h1", State: "failed", LastError: "bad", DropCredit: true, Now: at},
			{ID: ids[2], Holder: "h2", State: "delivered", Now: at},                                 // another holder's
			{ID: ids[0], Holder: "h1", State: "delivered", Now: at},                                 // repeated: the first wins
			{ID: ids[3], Holder: "h1", State: "delivered", Now: at},                                 // not sending
			{ID: ids[5] + 1000, State: "failed", Now: at},                                           // no such message
			{ID: ids[1], Holder: "h1", State: "queued", RunAt: retryAt, LastError: "busy", Now: at}, // a retry keeps its credit
			{ID: ids[5], Holder: "h1", State: "delivered", MsgID: "wx-msg-1", Now: at},
			{ID: ids[4], State: "expired", LastError: "ttl", Now: at}, // unconditional
		}
		var got []*store.Message
		withTx(ctx, t, s, func(tx store.Executor) {
			var err error
			if got, err = tx.MessageUpdateMany(ctx, ps); err != nil {
				t.Fatalf("MessageUpdateMany: %v", err)
			}
		})
		if len(got) != len(ps) {
			t.Fatalf("MessageUpdateMany: %d results for %d updates", len(got), len(ps))
		}
		applied := make([]bool, len(got))
		for i, m := range got {
			applied[i] = m != nil
		}
		if want := []bool{true, false, false, false, false, true, true, true}; !slices.Equal(applied, want) {
			t.Fatalf("applied=%v, want %v", applied, want)
		}
		// The returned row is the message after the update, with the credit
		// it held before the drop.
		if m := got[0]; m.ID != ids[0] || m.State != "failed" || m.LastError != "bad" || m.ClaimedBy != "" ||
			!m.LeaseUntil.IsZero() || m.CreditID != cs[0].ID || m.CreditValue != "f1" || m.Attempts != 1 {
			t.Fatalf("returned %+v, want failed, claim cleared, the credit it held (f1)", m)
		} else {
			checkTime(t, "returned UpdatedAt", m.UpdatedAt, at)
		}
		if m := mustGetMessage(ctx, t, s, ids[0]); m.State != "failed" || m.CreditID != 0 || m.CreditValue != "" || m.ClaimedBy != "" {
			t.Fatalf("stored %+v, want failed with the credit dropped", m)
		}
		if m := mustGetMessage(ctx, t, s, ids[2]); m.State != "sending" || m.ClaimedBy != "h1" {
			t.Fatalf("another holder's update applied: %+v", m)
		}
		if m := mustGetMessage(ctx, t, s, ids[3]); m.State != "queued" {
			t.Fatalf("a conditional update of a queued message applied: %+v", m)
		}
		m := mustGetMessage(ctx, t, s, ids[1])
		if got[5].CreditID != cs[1].ID || m.State != "queued" || m.CreditID != cs[1].ID || m.CreditValue != "f2" ||
			m.ClaimedBy != "" || !m.LeaseUntil.IsZero() || m.LastError != "busy" {
			t.Fatalf("retry stored %+v (returned credit %d), want queued, credit f2 kept, claim cleared", m, got[5].CreditID)
		}
		checkTime(t, "retry RunAt", m.RunAt, retryAt)
		checkTime(t, "retry returned RunAt", got[5].RunAt, retryAt)
		if m := mustGetMessage(ctx, t, s, ids[5]); m.State != "delivered" || m.MsgID != "wx-msg-1" || got[6].MsgID != "wx-msg-1" {
			t.Fatalf("delivered %+v, want msgid wx-msg-1", m)
		}
		m = mustGetMessage(ctx, t, s, ids[4])
		if m.State != "expired" || m.LastError != "ttl" {
			t.Fatalf("unconditional update stored %+v", m)
		}
		checkTime(t, "UpdatedAt", m.UpdatedAt, at)
		checkTime(t, "RunAt unchanged", m.RunAt, testNow)
		// The credits are untouched: killing or refunding is the caller's.
		if c := mustGetCredit(ctx, t, s, cs[0].ID); c.UsesLeft != 0 || c.DeadReason != "" {
			t.Fatalf("dropped credit %+v, want as reserved", c)
		}

		// All or none: an element that fails Validate changes nothing.
		if _, err := s.MessageUpdateMany(ctx, []*store.MessageUpdateParams{
			{ID: ids[2], Holder: "h1", State: "delivered", Now: at},
			{ID: ids[3], State: "", Now: at},
		}); err == nil {
			t.Fatal("MessageUpdateMany with an element without State succeeded")
		}
		if m := mustGetMessage(ctx, t, s, ids[2]); m.State != "sending" {
			t.Fatalf("a failed MessageUpdateMany applied an element: %+v", m)
		}
		if rows, err := s.MessageUpdateMany(ctx, nil); err != nil || len(rows) != 0 {
			t.Fatalf("MessageUpdateMany(nil)=%v, %v", rows, err)
		}
	})

	t.Run("AttemptInsertMany", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		ids := resultIDs(mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, ""), newMessage(app, userA, tpl, ""),
			newMessage(app, userA, tpl, "")))
		as := []*store.Attempt{
			{MessageID: ids[0], N: 1, At: testNow, ErrCode: -1, ErrMsg: "system busy", Class: "retry", LatencyMS: 3.5},
			{MessageID: ids[1], N: 1, At: testNow, ErrMsg: "ok", LatencyMS: 1},
			{MessageID: ids[0], N: 2, At: testNow.Add(time.Second), ErrMsg: "ok", LatencyMS: 12.25},
		}
		withTx(ctx, t, s, func(tx store.Executor) {
			if err := tx.AttemptInsertMany(ctx, as); err != nil {
				t.Fatalf("AttemptInsertMany: %v", err)
			}
		})
		got, err := s.MessageAttempts(ctx, ids[0])
		if err != nil || len(got) != 2 {
			t.Fatalf("MessageAttempts=%v, %v; want 2", got, err)
		}
		for i, want := range []*store.Attempt{as[0], as[2]} {
			a := got[i]
			if a.MessageID != want.MessageID || a.N != want.N || a.ErrCode != want.ErrCode || a.ErrMsg != want.ErrMsg ||
				a.Class != want.Class || a.LatencyMS != want.LatencyMS {
				t.Errorf("attempt %d=%+v, want %+v", i, a, want)
			}
			checkTime(t, "At", a.At, want.At)
		}
		if got, err := s.MessageAttempts(ctx, ids[1]); err != nil || len(got) != 1 {
			t.Fatalf("MessageAttempts of the second=%v, %v; want 1", got, err)
		}
		if err := s.AttemptInsertMany(ctx, nil); err != nil {
			t.Fatalf("AttemptInsertMany(nil): %v", err)
		}
		// All or none: a repeated (message, n) stores nothing.
		if err := s.AttemptInsertMany(ctx, []*store.Attempt{
			{MessageID: ids[2], N: 1, At: testNow},
			{MessageID: ids[0], N: 1, At: testNow},
		}); err == nil {
			t.Fatal("AttemptInsertMany of an attempt stored already succeeded")
		}
		if got, err := s.MessageAttempts(ctx, ids[2]); err != nil || len(got) != 0 {
			t.Fatalf("attempts of a failed AttemptInsertMany: %v, %v; want none", got, err)
		}
	})

	t.Run("EventFindSent", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		ids := resultIDs(mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, ""), newMessage(app, userA, tpl, ""),
			newMessage(app, userA, tpl, ""), newMessage(app2, userA, tpl, ""), newMessage(app, userC, tpl, "")))
		amb, holder, queued, other, lonely := ids[0], ids[1], ids[2], ids[3], ids[4]
		// amb was created at testNow and marked ambiguous a minute later.
		marked := testNow.Add(time.Minute)
		update(ctx, t, s, &store.MessageUpdateParams{ID: amb, State: "ambiguous", Now: marked},
			&store.MessageUpdateParams{ID: lonely, State: "ambiguous", Now: marked})
		sent := func(typ, openID, templateID, msgID, status string, at time.Time) {
			t.Helper()
			if _, err := s.EventInsert(ctx, &store.Event{AppID: app, Type: typ, OpenID: openID, TemplateID: templateID,
				Status: status, MsgID: msgID, CreateTime: at, ReceivedAt: at}); err != nil {
				t.Fatalf("EventInsert: %v", err)
			}
		}
		find := func(id int64, skew time.Duration, wantMsgID string) {
			t.Helper()
			e, err := s.EventFindSent(ctx, &store.EventFindSentParams{MessageID: id, Skew: skew})
			if wantMsgID == "" {
				if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("EventFindSent(%d, skew %v)=%+v, %v; want ErrNotFound", id, skew, e, err)
				}
				return
			}
			if err != nil || e.MsgID != wantMsgID {
				t.Fatalf("EventFindSent(%d, skew %v)=%+v, %v; want the event with msgid %s", id, skew, e, err, wantMsgID)
			}
		}
		sentType := wxnotify.EventSubscribeSent
		find(amb, store.ResolveSkew, "")                                                             // no event yet
		sent(sentType, userB, tpl, "901", "success", testNow.Add(30*time.Second))                    // another user
		sent(sentType, userA, tpl2, "902", "success", testNow.Add(30*time.Second))                   // another template
		sent(sentType, userA, tpl, "903", "success", testNow.Add(-time.Hour))                        // long before the message
		sent(sentType, userA, tpl, "904", "success", marked.Add(time.Hour))                          // long after it was marked
		sent(wxnotify.EventSubscribePopup, userA, tpl, "905", "accept", testNow.Add(10*time.Second)) // not a sent event
		sent(sentType, userA, tpl, "", "success", testNow.Add(15*time.Second))                       // no msgid
		find(amb, store.ResolveSkew, "")
		sent(sentType, userA, tpl, "908", "success", testNow.Add(50*time.Second))
		sent(sentType, userA, tpl, "906", "failed:user refuse", testNow.Add(40*time.Second))
		find(amb, store.ResolveSkew, "906") // the oldest
		e, err := s.EventFindSent(ctx, &store.EventFindSentParams{MessageID: amb, Skew: store.ResolveSkew})
		if err != nil || e.Status != "failed:user refuse" || e.AppID != app || e.OpenID != userA || e.TemplateID != tpl || e.Type != sentType {
			t.Fatalf("EventFindSent=%+v, %v; want the failed event", e, err)
		}
		checkTime(t, "CreateTime", e.CreateTime, testNow.Add(40*time.Second))
		// The skew widens the window on both sides.
		sent(sentType, userA, tpl, "907", "success", testNow.Add(-3*time.Second))
		find(amb, store.ResolveSkew, "907")
		find(amb, 0, "906")
		sent(sentType, userA, tpl, "909", "success", marked.Add(4*time.Second))
		find(amb, 0, "906")
		// A msgid another message of the app holds is not this one's; one of
		// another app does not count.
		update(ctx, t, s, &store.MessageUpdateParams{ID: holder, State: "delivered", MsgID: "907", Now: marked},
			&store.MessageUpdateParams{ID: other, State: "delivered", MsgID: "906", Now: marked})
		find(amb, store.ResolveSkew, "906")
		update(ctx, t, s, &store.MessageUpdateParams{ID: queued, State: "delivered", MsgID: "906", Now: marked})
		find(amb, store.ResolveSkew, "908")
		find(lonely, store.ResolveSkew, "") // userC has no event
		find(other, store.ResolveSkew, "")  // not ambiguous
		find(ids[4]+1000, store.ResolveSkew, "")
		// Finding changes nothing.
		if m := mustGetMessage(ctx, t, s, amb); m.State != "ambiguous" || m.MsgID != "" {
			t.Fatalf("after EventFindSent: %+v", m)
		}
	})

	t.Run("MessageRequeueWaiting", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		ids := resultIDs(mustInsertMessages(ctx, t, s, newMessage(app, userA, tpl, ""), newLegacyMessage(app, userB, ""),
			newMessage(app, userC, tpl, "")))
		for _, id := range ids {
			update(ctx, t, s, &store.MessageUpdateParams{ID: id, State: "waiting_credit", LastError: "no usable credit", Now: testNow})
		}
		mustInsertCredits(ctx, t, s, subscribeCredit(app, userA, tpl, testNow), formIDCredit(app, userB, "f1", testNow))
		at := testNow.Add(time.Minute)
		requeue := func(p *store.MessageRequeueWaitingParams, want int64) {
			t.Helper()
			p.Now, p.Cutoff = at, at
			n, err := s.MessageRequeueWaiting(ctx, p)
			if err != nil || n != want {
				t.Fatalf("MessageRequeueWaiting(%+v)=%d, %v; want %d", p, n, err, want)
			}
		}
		// Only the kinds passed count.
		requeue(&store.MessageRequeueWaitingParams{SubscribeKinds: []string{"long_term"}, TemplateKinds: []string{"prepay_id"}}, 0)
		requeue(&store.MessageRequeueWaitingParams{SubscribeKinds: []string{"long_term", "subscribe"}, TemplateKinds: []string{"prepay_id"}}, 1)
		m := mustGetMessage(ctx, t, s, ids[0])
		if m.State != "queued" || m.LastError != "" {
			t.Fatalf("requeued %+v, want queued without the error", m)
		}
		checkTime(t, "UpdatedAt", m.UpdatedAt, at)
		// A legacy credit of any template; a subscribe kind is not one.
		requeue(&store.MessageRequeueWaitingParams{SubscribeKinds: []string{"subscribe"}, TemplateKinds: []string{"subscribe"}}, 0)
		requeue(&store.MessageRequeueWaitingParams{SubscribeKinds: []string{"subscribe"}, TemplateKinds: []string{"form_id"}}, 1)
		if m := mustGetMessage(ctx, t, s, ids[1]); m.State != "queued" {
			t.Fatalf("legacy message %s, want queued", m.State)
		}
		if m := mustGetMessage(ctx, t, s, ids[2]); m.State != "waiting_credit" {
			t.Fatalf("message of a user without credit %s, want waiting_credit", m.State)
		}
	})
}

// setState moves messages to state unconditionally (MessageUpdateMany).
func setState(ctx context.Context, t *testing.T, s store.Executor, id int64, state string) {
	t.Helper()
	update(ctx, t, s, &store.MessageUpdateParams{ID: id, State: state, Now: testNow})
}

// update applies ps, each of which must apply.
func update(ctx context.Context, t *testing.T, s store.Executor, ps ...*store.MessageUpdateParams) {
	t.Helper()
	rows, err := s.MessageUpdateMany(ctx, ps)
	if err != nil {
		t.Fatalf("MessageUpdateMany: %v", err)
	}
	for i, m := range rows {
		if m == nil {
			t.Fatalf("MessageUpdateMany(%+v) not applied", ps[i])
		}
	}
}

// claimMany locks and claims messages for holder at testNow, in one
// transaction.
func claimMany(ctx context.Context, t *testing.T, s store.Executor, holder string, lease time.Time, claims ...store.MessageClaim) {
	t.Helper()
	claimManyAt(ctx, t, s, holder, testNow, lease, claims...)
}

func claimManyAt(ctx context.Context, t *testing.T, s store.Executor, holder string, now, lease time.Time, claims ...store.MessageClaim) {
	t.Helper()
	withTx(ctx, t, s, func(tx store.Executor) {
		for _, c := range claims {
			if _, err := tx.MessageLock(ctx, c.ID); err != nil {
				t.Fatalf("MessageLock %d: %v", c.ID, err)
			}
		}
		if err := tx.MessageClaimMany(ctx, &store.MessageClaimManyParams{Holder: holder, LeaseUntil: lease, Now: now, Claims: claims}); err != nil {
			t.Fatalf("MessageClaimMany: %v", err)
		}
	})
}

func reserve(ctx context.Context, t *testing.T, s store.Executor, ps ...*store.CreditReserveParams) []store.CreditReserved {
	t.Helper()
	got, err := s.CreditReserveMany(ctx, ps)
	if err != nil {
		t.Fatalf("CreditReserveMany: %v", err)
	}
	if len(got) != len(ps) {
		t.Fatalf("CreditReserveMany: %d results for %d", len(got), len(ps))
	}
	return got
}
