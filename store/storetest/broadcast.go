package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/store"
)

// exerciseBroadcast checks the broadcast, schedule, webhook and webhook
// outbox methods.
func exerciseBroadcast(t *testing.T, newDB NewDBFunc) {
	// setup gives a subtest a fresh database with apps 1 and 2.
	setup := func(t *testing.T) (store.Driver, OpenFunc) {
		t.Helper()
		open := newDB(t)
		s := open(t)
		insertApp(t.Context(), t, s, testAppID(1))
		insertApp(t.Context(), t, s, testAppID(2))
		return s, open
	}
	app, app2, app9 := testAppID(1), testAppID(2), testAppID(9)

	t.Run("BroadcastAbortStale", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		db, _ := setup(t)
		stale, err := db.BroadcastInsert(ctx, &store.BroadcastInsertParams{AppID: app, TemplateID: "T", Spec: []byte("{}"), Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := db.BroadcastInsert(ctx, &store.BroadcastInsertParams{AppID: app, TemplateID: "T", Spec: []byte("{}"), Now: testNow.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		p := newMessage(app, "oUserA", "T", "")
		p.BroadcastID = stale
		q := newMessage(app, "oUserB", "T", "")
		q.BroadcastID = stale
		mustInsertMessages(ctx, t, db, p, q)
		n, err := db.BroadcastAbortStale(ctx, testNow.Add(30*time.Minute), testNow.Add(2*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("BroadcastAbortStale=%d, %v; want 1", n, err)
		}
		if b, _ := db.BroadcastGet(ctx, stale); b.State != "aborted" || b.Accepted != 2 || !strings.Contains(b.Error, "interrupted") {
			t.Fatalf("stale broadcast after recovery: %+v", b)
		}
		if b, _ := db.BroadcastGet(ctx, fresh); b.State != "accepting" {
			t.Fatalf("a broadcast still uploading was touched: %+v", b)
		}
	})

	t.Run("Broadcast", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		db, _ := setup(t)
		if _, err := db.BroadcastInsert(ctx, &store.BroadcastInsertParams{AppID: app9, TemplateID: "T", Spec: []byte("{}"), Now: testNow}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("BroadcastInsert unknown app: err=%v, want ErrNotFound", err)
		}
		spec := []byte(`{"data":{"thing1":"书"}}`)
		id, err := db.BroadcastInsert(ctx, &store.BroadcastInsertParams{AppID: app, TemplateID: "T", Spec: spec, Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		b, err := db.BroadcastGet(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if b.ID != id || b.AppID != app || b.TemplateID != "T" || string(b.Spec) != string(spec) || b.State != "accepting" || b.Accepted != 0 {
			t.Fatalf("BroadcastGet=%+v", b)
		}
		checkTime(t, "CreatedAt", b.CreatedAt, testNow)
		if err := db.BroadcastFinish(ctx, &store.BroadcastFinishParams{ID: id, State: "accepting", Now: testNow}); err == nil {
			t.Fatal("BroadcastFinish to accepting: want a validation error")
		}
		later := testNow.Add(time.Minute)
		if err := db.BroadcastFinish(ctx, &store.BroadcastFinishParams{ID: id, State: "accepted", Accepted: 100000, Now: later}); err != nil {
			t.Fatal(err)
		}
		if err := db.BroadcastFinish(ctx, &store.BroadcastFinishParams{ID: id, State: "aborted", Accepted: 1, Error: "x", Now: later}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("BroadcastFinish twice: err=%v, want ErrConflict", err)
		}
		if err := db.BroadcastFinish(ctx, &store.BroadcastFinishParams{ID: id + 1000, State: "aborted", Now: later}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("BroadcastFinish unknown: err=%v, want ErrNotFound", err)
		}
		b, err = db.BroadcastGet(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if b.State != "accepted" || b.Accepted != 100000 || b.Error != "" {
			t.Fatalf("after finish: %+v", b)
		}
		checkTime(t, "UpdatedAt", b.UpdatedAt, later)

		id2, err := db.BroadcastInsert(ctx, &store.BroadcastInsertParams{AppID: app, TemplateID: "T", Spec: spec, Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.BroadcastFinish(ctx, &store.BroadcastFinishParams{ID: id2, State: "aborted", Accepted: 7, Error: "recipients[7].openid: empty", Now: later}); err != nil {
			t.Fatal(err)
		}
		if b, err := db.BroadcastGet(ctx, id2); err != nil || b.State != "aborted" || b.Accepted != 7 || b.Error == "" {
			t.Fatalf("aborted: %+v, %v", b, err)
		}
		if err := db.AppDelete(ctx, app); err != nil {
			t.Fatal(err)
		}
		if _, err := db.BroadcastGet(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("BroadcastGet after AppDelete: err=%v, want ErrNotFound", err)
		}
	})

	newSchedule := func(appID string, next time.Time) *store.ScheduleInsertParams {
		return &store.ScheduleInsertParams{
			AppID: appID, Name: "早安", Cron: "0 9 * * *", Timezone: "Asia/Shanghai",
			Message: []byte(`{"openids":["o1"]}`), State: "active", NextRunAt: next, Now: testNow,
		}
	}

	t.Run("Schedule", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		db, _ := setup(t)
		if _, err := db.ScheduleInsert(ctx, newSchedule(app9, testNow)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ScheduleInsert unknown app: err=%v, want ErrNotFound", err)
		}
		next := testNow.Add(time.Hour)
		p := newSchedule(app, next)
		id1, err := db.ScheduleInsert(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		id2, err := db.ScheduleInsert(ctx, newSchedule(app2, next))
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.ScheduleGet(ctx, id1)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != id1 || got.AppID != app || got.Name != p.Name || got.Cron != p.Cron || got.Timezone != p.Timezone ||
			string(got.Message) != string(p.Message) || got.State != "active" || got.LeaseHolder != "" || !got.LastRunAt.IsZero() {
			t.Fatalf("ScheduleGet=%+v", got)
		}
		checkTime(t, "NextRunAt", got.NextRunAt, next)
		checkTime(t, "CreatedAt", got.CreatedAt, testNow)

		for _, tc := range []struct {
			name string
			apps []string
			want []int64
		}{
			{"All", nil, []int64{id1, id2}},
			{"One", []string{app2}, []int64{id2}},
			{"None", []string{}, nil},
		} {
			list, err := db.ScheduleList(ctx, &store.ScheduleListParams{AppIDs: tc.apps})
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, s := range list {
				ids = append(ids, s.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("ScheduleList %s=%v, want %v", tc.name, ids, tc.want)
			}
		}

		paused, err := db.ScheduleSetState(ctx, &store.ScheduleSetStateParams{ID: id1, State: "paused", Now: testNow.Add(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if paused.State != "paused" {
			t.Fatalf("State=%q, want paused", paused.State)
		}
		checkTime(t, "NextRunAt kept", paused.NextRunAt, next)
		checkTime(t, "UpdatedAt", paused.UpdatedAt, testNow.Add(time.Second))
		resumed, err := db.ScheduleSetState(ctx, &store.ScheduleSetStateParams{ID: id1, State: "active", NextRunAt: next.Add(24 * time.Hour), Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		checkTime(t, "NextRunAt resumed", resumed.NextRunAt, next.Add(24*time.Hour))
		if _, err := db.ScheduleSetState(ctx, &store.ScheduleSetStateParams{ID: 99999, State: "paused", Now: testNow}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ScheduleSetState unknown: err=%v, want ErrNotFound", err)
		}
		if err := db.ScheduleDelete(ctx, id1); err != nil {
			t.Fatal(err)
		}
		if err := db.ScheduleDelete(ctx, id1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ScheduleDelete twice: err=%v, want ErrNotFound", err)
		}
		if _, err := db.ScheduleGet(ctx, id1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ScheduleGet deleted: err=%v, want ErrNotFound", err)
		}
		if err := db.AppDelete(ctx, app2); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ScheduleGet(ctx, id2); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ScheduleGet after AppDelete: err=%v, want ErrNotFound", err)
		}
	})

	t.Run("ScheduleClaimAdvance", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		db, _ := setup(t)
		occ := testNow
		due, err := db.ScheduleInsert(ctx, newSchedule(app, occ))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ScheduleInsert(ctx, newSchedule(app, occ.Add(time.Hour))); err != nil { // not yet due
			t.Fatal(err)
		}
		pausedID, err := db.ScheduleInsert(ctx, newSchedule(app2, occ.Add(-time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ScheduleSetState(ctx, &store.ScheduleSetStateParams{ID: pausedID, State: "paused", Now: testNow}); err != nil {
			t.Fatal(err)
		}
		claim := func(holder string, now time.Time) []*store.Schedule {
			t.Helper()
			got, err := db.ScheduleClaimDue(ctx, &store.ScheduleClaimDueParams{Holder: holder, Now: now, LeaseUntil: now.Add(time.Minute), Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		if _, err := db.ScheduleClaimDue(ctx, &store.ScheduleClaimDueParams{Holder: "a", Now: testNow, LeaseUntil: testNow, Limit: 10}); err == nil {
			t.Fatal("LeaseUntil == Now: want a validation error")
		}
		got := claim("a", testNow)
		if len(got) != 1 || got[0].ID != due || got[0].LeaseHolder != "a" {
			t.Fatalf("ScheduleClaimDue=%+v, want only schedule %d held by a", got, due)
		}
		checkTime(t, "claimed NextRunAt", got[0].NextRunAt, occ)
		checkTime(t, "LeaseUntil", got[0].LeaseUntil, testNow.Add(time.Minute))
		// Held: nobody else gets it until the lease ends.
		if got := claim("b", testNow.Add(59*time.Second)); len(got) != 0 {
			t.Fatalf("claim during lease: %d schedules, want 0", len(got))
		}
		// The lease expired: b takes over, and a may no longer advance.
		takeover := testNow.Add(time.Minute)
		got = claim("b", takeover)
		if len(got) != 1 || got[0].ID != due || got[0].LeaseHolder != "b" {
			t.Fatalf("claim after lease: %+v, want schedule %d for b", got, due)
		}
		next := occ.Add(24 * time.Hour)
		if ok, err := db.ScheduleAdvance(ctx, &store.ScheduleAdvanceParams{ID: due, Holder: "a", Occurrence: occ, NextRunAt: next, Now: takeover}); err != nil || ok {
			t.Fatalf("ScheduleAdvance by the old holder=%v, %v; want false", ok, err)
		}
		if ok, err := db.ScheduleAdvance(ctx, &store.ScheduleAdvanceParams{ID: due, Holder: "b", Occurrence: occ.Add(time.Second), NextRunAt: next, Now: takeover}); err != nil || ok {
			t.Fatalf("ScheduleAdvance of another occurrence=%v, %v; want false", ok, err)
		}
		if ok, err := db.ScheduleAdvance(ctx, &store.ScheduleAdvanceParams{ID: due, Holder: "b", Occurrence: occ, NextRunAt: next, Now: takeover}); err != nil || !ok {
			t.Fatalf("ScheduleAdvance=%v, %v; want true", ok, err)
		}
		if ok, err := db.ScheduleAdvance(ctx, &store.ScheduleAdvanceParams{ID: due, Holder: "b", Occurrence: occ, NextRunAt: next, Now: takeover}); err != nil || ok {
			t.Fatalf("ScheduleAdvance twice=%v, %v; want false", ok, err)
		}
		s, err := db.ScheduleGet(ctx, due)
		if err != nil {
			t.Fatal(err)
		}
		if s.LeaseHolder != "" || !s.LeaseUntil.IsZero() {
			t.Fatalf("lease not released: %q %v", s.LeaseHolder, s.LeaseUntil)
		}
		checkTime(t, "NextRunAt", s.NextRunAt, next)
		checkTime(t, "LastRunAt", s.LastRunAt, occ)
		// Advanced: not due again before next, even for a new holder.
		for _, s := range claim("c", next.Add(-time.Microsecond)) {
			if s.ID == due {
				t.Fatalf("schedule %d claimed before its next occurrence", due)
			}
		}
	})

	t.Run("ScheduleOneInstanceFiresEachOccurrence", func(t *testing.T) {
		// Instances race to claim and advance the same schedules at the
		// same instants; every occurrence must be fired exactly once.
		t.Parallel()
		ctx := t.Context()
		db, open := setup(t)
		const instances, rounds, schedules = 6, 5, 4
		var ids []int64
		for range schedules {
			id, err := db.ScheduleInsert(ctx, newSchedule(app, testNow))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		stores := []store.Driver{db}
		for len(stores) < instances {
			stores = append(stores, open(t))
		}
		type fire struct {
			id  int64
			occ time.Time
		}
		var (
			mu    sync.Mutex
			fired = map[fire]string{}
		)
		for round := range rounds {
			occ := testNow.Add(time.Duration(round) * time.Hour)
			now := occ.Add(time.Second)
			var (
				wg    sync.WaitGroup
				start = make(chan struct{})
				errs  = make([]error, instances)
			)
			for i, st := range stores {
				holder := fmt.Sprintf("instance-%d", i)
				wg.Go(func() {
					<-start
					got, err := st.ScheduleClaimDue(ctx, &store.ScheduleClaimDueParams{Holder: holder, Now: now, LeaseUntil: now.Add(time.Minute), Limit: 2})
					if err != nil {
						errs[i] = err
						return
					}
					for _, s := range got {
						mu.Lock()
						f := fire{s.ID, s.NextRunAt}
						if other, ok := fired[f]; ok {
							errs[i] = fmt.Errorf("schedule %d occurrence %v fired by %s and %s", s.ID, s.NextRunAt, other, holder)
						}
						fired[f] = holder
						mu.Unlock()
						ok, err := st.ScheduleAdvance(ctx, &store.ScheduleAdvanceParams{ID: s.ID, Holder: holder, Occurrence: s.NextRunAt, NextRunAt: occ.Add(time.Hour), Now: now})
						if err != nil || !ok {
							errs[i] = fmt.Errorf("advance %d by %s: %v, %v", s.ID, holder, ok, err)
						}
					}
				})
			}
			close(start)
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			// Claims of 2 by 6 instances cover the 4 schedules unless one
			// instance was slow; whatever is left is fired now.
			for {
				got, err := db.ScheduleClaimDue(ctx, &store.ScheduleClaimDueParams{Holder: "sweeper", Now: now, LeaseUntil: now.Add(time.Minute), Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) == 0 {
					break
				}
				for _, s := range got {
					f := fire{s.ID, s.NextRunAt}
					if other, ok := fired[f]; ok {
						t.Fatalf("schedule %d occurrence fired by %s and sweeper", s.ID, other)
					}
					fired[f] = "sweeper"
					if ok, err := db.ScheduleAdvance(ctx, &store.ScheduleAdvanceParams{ID: s.ID, Holder: "sweeper", Occurrence: s.NextRunAt, NextRunAt: occ.Add(time.Hour), Now: now}); err != nil || !ok {
						t.Fatalf("sweeper advance: %v %v", ok, err)
					}
				}
			}
			for _, id := range ids {
				if _, ok := fired[fire{id, occ.UTC().Truncate(store.TimePrecision)}]; !ok {
					t.Fatalf("round %d: schedule %d not fired", round, id)
				}
			}
		}
		if got, want := len(fired), rounds*schedules; got != want {
			t.Fatalf("%d firings, want %d", got, want)
		}
	})

	newWebhook := func(appID, url string) *store.WebhookInsertParams {
		return &store.WebhookInsertParams{AppID: appID, URL: url, SecretSealed: []byte("sealed " + url), Now: testNow}
	}
	event := func(appID string, msgID int64, now time.Time) *store.WebhookOutboxInsertParams {
		return &store.WebhookOutboxInsertParams{
			AppID: appID, MessageID: msgID, Event: "message.delivered",
			Payload: fmt.Appendf(nil, `{"message_id":%d}`, msgID), Now: now,
		}
	}

	t.Run("Webhook", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		db, _ := setup(t)
		if _, err := db.WebhookInsert(ctx, newWebhook(app9, "https://x")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("WebhookInsert unknown app: err=%v, want ErrNotFound", err)
		}
		id1, err := db.WebhookInsert(ctx, newWebhook(app, "https://a.example/hook"))
		if err != nil {
			t.Fatal(err)
		}
		id2, err := db.WebhookInsert(ctx, newWebhook(app2, "https://b.example/hook"))
		if err != nil {
			t.Fatal(err)
		}
		w, err := db.WebhookGet(ctx, id1)
		if err != nil {
			t.Fatal(err)
		}
		if w.AppID != app || w.URL != "https://a.example/hook" || string(w.SecretSealed) != "sealed https://a.example/hook" {
			t.Fatalf("WebhookGet=%+v", w)
		}
		checkTime(t, "CreatedAt", w.CreatedAt, testNow)
		list, err := db.WebhookList(ctx, &store.WebhookListParams{AppIDs: []string{app2}})
		if err != nil || len(list) != 1 || list[0].ID != id2 {
			t.Fatalf("WebhookList app2=%v, %v", list, err)
		}
		list, err = db.WebhookList(ctx, &store.WebhookListParams{})
		if err != nil || len(list) != 2 || list[0].ID != id1 {
			t.Fatalf("WebhookList all=%v, %v", list, err)
		}
		if err := db.WebhookDelete(ctx, id1); err != nil {
			t.Fatal(err)
		}
		if err := db.WebhookDelete(ctx, id1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("WebhookDelete twice: err=%v, want ErrNotFound", err)
		}
		if _, err := db.WebhookOutboxInsertMany(ctx, []*store.WebhookOutboxInsertParams{event(app2, 1, testNow)}); err != nil {
			t.Fatal(err)
		}
		if err := db.AppDelete(ctx, app2); err != nil {
			t.Fatal(err)
		}
		if _, err := db.WebhookGet(ctx, id2); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("WebhookGet after AppDelete: err=%v, want ErrNotFound", err)
		}
		if c, err := db.WebhookOutboxCounts(ctx, 0); err != nil || len(c) != 0 {
			t.Fatalf("outbox after AppDelete: %v, %v; want empty", c, err)
		}
	})

	t.Run("WebhookOutbox", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		db, _ := setup(t)
		h1, _ := db.WebhookInsert(ctx, newWebhook(app, "https://a.example/1"))
		h2, _ := db.WebhookInsert(ctx, newWebhook(app, "https://a.example/2"))
		if h1 == 0 || h2 == 0 {
			t.Fatal("WebhookInsert failed")
		}
		if n, err := db.WebhookOutboxInsertMany(ctx, nil); err != nil || n != 0 {
			t.Fatalf("empty insert=%d, %v", n, err)
		}
		n, err := db.WebhookOutboxInsertMany(ctx, []*store.WebhookOutboxInsertParams{
			event(app, 10, testNow), event(app2, 11, testNow), event(app, 12, testNow.Add(time.Second)),
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != 4 { // two events of app 1 to two webhooks; app 2 has none
			t.Fatalf("WebhookOutboxInsertMany=%d, want 4", n)
		}
		claim := func(holder string, now time.Time, limit int) []*store.WebhookOutbox {
			t.Helper()
			got, err := db.WebhookOutboxClaim(ctx, &store.WebhookOutboxClaimParams{Holder: holder, Now: now, LeaseUntil: now.Add(time.Minute), Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		got := claim("a", testNow, 10)
		if len(got) != 2 {
			t.Fatalf("claim at testNow: %d rows, want 2 (the second event is not due)", len(got))
		}
		o := got[0]
		if o.MessageID != 10 || o.Event != "message.delivered" || string(o.Payload) != `{"message_id":10}` || o.Attempts != 1 ||
			o.LeaseHolder != "a" || o.State != "pending" || !slices.Contains([]int64{h1, h2}, o.WebhookID) {
			t.Fatalf("claimed %+v", o)
		}
		if want := "sealed https://a.example/" + map[int64]string{h1: "1", h2: "2"}[o.WebhookID]; string(o.SecretSealed) != want || o.URL != want[len("sealed "):] {
			t.Fatalf("claimed URL=%q secret=%q", o.URL, o.SecretSealed)
		}
		checkTime(t, "CreatedAt", o.CreatedAt, testNow)
		if got := claim("b", testNow.Add(2*time.Second), 10); len(got) != 2 || got[0].MessageID != 12 {
			t.Fatalf("claim by b: %+v, want the two rows of message 12 only", got)
		}
		// Finish: only the holder.
		if ok, err := db.WebhookOutboxFinish(ctx, &store.WebhookOutboxFinishParams{ID: o.ID, Holder: "b", Delivered: true, Now: testNow}); err != nil || ok {
			t.Fatalf("finish by another holder=%v, %v", ok, err)
		}
		if ok, err := db.WebhookOutboxFinish(ctx, &store.WebhookOutboxFinishParams{ID: o.ID, Holder: "a", Delivered: true, Now: testNow}); err != nil || !ok {
			t.Fatalf("finish delivered=%v, %v", ok, err)
		}
		retryAt := testNow.Add(30 * time.Second)
		if ok, err := db.WebhookOutboxFinish(ctx, &store.WebhookOutboxFinishParams{ID: got[1].ID, Holder: "a", NextAttemptAt: retryAt, LastError: "HTTP 500", Now: testNow}); err != nil || !ok {
			t.Fatalf("finish retry=%v, %v", ok, err)
		}
		if got := claim("a", retryAt.Add(-time.Microsecond), 10); len(got) != 0 {
			t.Fatalf("claim before retry: %+v", got)
		}
		again := claim("a", retryAt, 10)
		if len(again) != 1 || again[0].ID != got[1].ID || again[0].Attempts != 2 || again[0].LastError != "HTTP 500" {
			t.Fatalf("claim at retry: %+v", again)
		}
		if ok, err := db.WebhookOutboxFinish(ctx, &store.WebhookOutboxFinishParams{ID: again[0].ID, Holder: "a", Dead: true, LastError: "gave up", Now: retryAt}); err != nil || !ok {
			t.Fatalf("finish dead=%v, %v", ok, err)
		}
		// b's lease on message 12's rows expires: they come back.
		if got := claim("c", testNow.Add(2*time.Second+time.Minute), 10); len(got) != 2 || got[0].Attempts != 2 {
			t.Fatalf("claim after b's lease: %+v", got)
		}
		if got := claim("d", testNow.Add(time.Hour), 10); len(got) != 2 {
			t.Fatalf("claim much later: %d rows, want 2 (c's lease ended; the dead row never)", len(got))
		}
		counts, err := db.WebhookOutboxCounts(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if counts["pending"] != 2 || counts["dead"] != 1 {
			t.Fatalf("WebhookOutboxCounts=%v, want pending 2, dead 1", counts)
		}
		if err := db.WebhookDelete(ctx, h1); err != nil {
			t.Fatal(err)
		}
		if err := db.WebhookDelete(ctx, h2); err != nil {
			t.Fatal(err)
		}
		if counts, err := db.WebhookOutboxCounts(ctx, 0); err != nil || len(counts) != 0 {
			t.Fatalf("counts after WebhookDelete=%v, %v", counts, err)
		}
	})

	t.Run("WebhookOutboxClaimOnceAcrossStores", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		db, open := setup(t)
		if _, err := db.WebhookInsert(ctx, newWebhook(app, "https://a.example/1")); err != nil {
			t.Fatal(err)
		}
		const events, instances = 200, 6
		ps := make([]*store.WebhookOutboxInsertParams, events)
		for i := range ps {
			ps[i] = event(app, int64(i+1), testNow)
		}
		if _, err := db.WebhookOutboxInsertMany(ctx, ps); err != nil {
			t.Fatal(err)
		}
		var (
			mu   sync.Mutex
			seen = map[int64]int{}
			wg   sync.WaitGroup
			errs = make([]error, instances)
		)
		for i := range instances {
			st := open(t)
			wg.Go(func() {
				for {
					got, err := st.WebhookOutboxClaim(ctx, &store.WebhookOutboxClaimParams{
						Holder: fmt.Sprint(i), Now: testNow, LeaseUntil: testNow.Add(time.Minute), Limit: 7,
					})
					if err != nil {
						errs[i] = err
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, o := range got {
						seen[o.MessageID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if len(seen) != events {
			t.Fatalf("%d events claimed, want %d", len(seen), events)
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("event %d claimed %d times", id, n)
			}
		}
	})
}
