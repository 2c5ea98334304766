package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/store"
)

// exerciseBroadcastEnd checks idempotency keys, listing and the finish of
// broadcasts, and the listing and replay of dead webhook events.
func exerciseBroadcastEnd(t *testing.T, newDB NewDBFunc) {
	setup := func(t *testing.T) store.Driver {
		t.Helper()
		s := newDB(t)(t)
		insertApp(t.Context(), t, s, testAppID(1))
		insertApp(t.Context(), t, s, testAppID(2))
		return s
	}
	app, app2 := testAppID(1), testAppID(2)
	insert := func(t *testing.T, db store.Executor, appID, key string) int64 {
		t.Helper()
		id, err := db.BroadcastInsert(t.Context(), &store.BroadcastInsertParams{AppID: appID, TemplateID: "T", Spec: []byte("{}"), IdempotencyKey: key, Now: testNow})
		if err != nil {
			t.Fatalf("BroadcastInsert key %q: %v", key, err)
		}
		return id
	}

	t.Run("IdempotencyKey", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		db := setup(t)
		id := insert(t, db, app, "k1")
		insert(t, db, app2, "k1") // another app's key
		insert(t, db, app, "")
		insert(t, db, app, "") // no key: never a conflict
		if _, err := db.BroadcastInsert(ctx, &store.BroadcastInsertParams{AppID: app, TemplateID: "T", Spec: []byte("{}"), IdempotencyKey: "k1", Now: testNow}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second insert of key k1: %v, want ErrConflict", err)
		}
		b, err := db.BroadcastGetByKey(ctx, app, "k1")
		if err != nil || b.ID != id || b.IdempotencyKey != "k1" || b.Fingerprint != nil {
			t.Fatalf("BroadcastGetByKey=%+v, %v; want broadcast %d", b, err, id)
		}
		if _, err := db.BroadcastGetByKey(ctx, app, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("BroadcastGetByKey of an unknown key: %v", err)
		}
		if err := db.BroadcastFinish(ctx, &store.BroadcastFinishParams{ID: id, State: "accepted", Accepted: 1, Fingerprint: []byte("fp"), Now: testNow}); err != nil {
			t.Fatal(err)
		}
		if b, _ := db.BroadcastGet(ctx, id); string(b.Fingerprint) != "fp" || b.State != "accepted" {
			t.Fatalf("after BroadcastFinish: %+v", b)
		}
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		db := setup(t)
		a1, b1, a2, a3 := insert(t, db, app, ""), insert(t, db, app2, ""), insert(t, db, app, ""), insert(t, db, app, "")
		if err := db.BroadcastFinish(ctx, &store.BroadcastFinishParams{ID: a2, State: "aborted", Error: "bad", Now: testNow}); err != nil {
			t.Fatal(err)
		}
		ids := func(p *store.BroadcastListParams) []int64 {
			t.Helper()
			bs, err := db.BroadcastList(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			out := []int64{}
			for _, b := range bs {
				out = append(out, b.ID)
			}
			return out
		}
		for _, tt := range []struct {
			name string
			p    store.BroadcastListParams
			want []int64
		}{
			{"All", store.BroadcastListParams{Limit: 10}, []int64{a3, a2, b1, a1}},
			{"App", store.BroadcastListParams{AppIDs: []string{app}, Limit: 10}, []int64{a3, a2, a1}},
			{"NoApps", store.BroadcastListParams{AppIDs: []string{}, Limit: 10}, []int64{}},
			{"State", store.BroadcastListParams{State: "aborted", Limit: 10}, []int64{a2}},
			{"Page", store.BroadcastListParams{Limit: 2}, []int64{a3, a2}},
			{"Before", store.BroadcastListParams{BeforeID: a2, Limit: 2}, []int64{b1, a1}},
		} {
			if got := ids(&tt.p); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("%s: BroadcastList=%v, want %v", tt.name, got, tt.want)
			}
		}
		if _, err := db.BroadcastList(ctx, &store.BroadcastListParams{}); err == nil {
			t.Error("BroadcastList without a limit succeeded")
		}
	})

	t.Run("FinishDone", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		db := setup(t)
		done, busy, aborted, uploading := insert(t, db, app, ""), insert(t, db, app, ""), insert(t, db, app, ""), insert(t, db, app, "")
		var ps []*store.MessageInsertParams
		for i, bid := range []int64{done, done, done, busy, busy, aborted, uploading} {
			p := newMessage(app, fmt.Sprintf("oUser%d", i), "T", "")
			p.BroadcastID = bid
			ps = append(ps, p)
		}
		msgs := resultIDs(mustInsertMessages(ctx, t, db, ps...))
		for _, id := range []int64{done, busy} {
			if err := db.BroadcastFinish(ctx, &store.BroadcastFinishParams{ID: id, State: "accepted", Accepted: 3, Now: testNow}); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.BroadcastFinish(ctx, &store.BroadcastFinishParams{ID: aborted, State: "aborted", Accepted: 1, Now: testNow}); err != nil {
			t.Fatal(err)
		}
		end := func(id int64, state string) {
			t.Helper()
			if _, err := db.MessageUpdateMany(ctx, []*store.MessageUpdateParams{{ID: id, State: state, Now: testNow}}); err != nil {
				t.Fatal(err)
			}
		}
		end(msgs[0], "delivered")
		end(msgs[1], "no_credit")
		end(msgs[3], "delivered")
		end(msgs[5], "delivered")
		end(msgs[6], "delivered")
		at := testNow.Add(time.Minute)
		if got, err := db.BroadcastFinishDone(ctx, at); err != nil || len(got) != 0 {
			t.Fatalf("BroadcastFinishDone with a message queued in each: %v, %v", got, err)
		}
		end(msgs[2], "failed")
		got, err := db.BroadcastFinishDone(ctx, at)
		if err != nil || fmt.Sprint(got) != fmt.Sprint([]int64{done}) {
			t.Fatalf("BroadcastFinishDone=%v, %v; want [%d]", got, err, done)
		}
		b, err := db.BroadcastGet(ctx, done)
		if err != nil {
			t.Fatal(err)
		}
		var counts map[string]int64
		if err := json.Unmarshal(b.Counts, &counts); err != nil {
			t.Fatalf("counts %q: %v", b.Counts, err)
		}
		if b.State != "finished" || !maps.Equal(counts, map[string]int64{"delivered": 1, "no_credit": 1, "failed": 1}) || b.Accepted != 3 {
			t.Fatalf("finished broadcast: state %q counts %v accepted %d", b.State, counts, b.Accepted)
		}
		checkTime(t, "FinishedAt", b.FinishedAt, at)
		checkTime(t, "UpdatedAt", b.UpdatedAt, at)
		for id, want := range map[int64]string{busy: "accepted", aborted: "aborted", uploading: "accepting"} {
			if b, _ := db.BroadcastGet(ctx, id); b.State != want || b.Counts != nil {
				t.Errorf("broadcast %d: state %q counts %q, want %q and none", id, b.State, b.Counts, want)
			}
		}
		if got, err := db.BroadcastFinishDone(ctx, at); err != nil || len(got) != 0 {
			t.Fatalf("BroadcastFinishDone again=%v, %v; want none", got, err)
		}
	})

	t.Run("WebhookOutboxListReplay", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		db := setup(t)
		h, err := db.WebhookInsert(ctx, &store.WebhookInsertParams{AppID: app, URL: "https://a.example/", SecretSealed: []byte("s"), Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		other, _ := db.WebhookInsert(ctx, &store.WebhookInsertParams{AppID: app2, URL: "https://b.example/", SecretSealed: []byte("s"), Now: testNow})
		var evs []*store.WebhookOutboxInsertParams
		for i := range 3 {
			evs = append(evs, &store.WebhookOutboxInsertParams{AppID: app, MessageID: int64(10 + i), Event: "message.failed", Payload: []byte("{}"), Now: testNow})
		}
		evs = append(evs, &store.WebhookOutboxInsertParams{AppID: app2, MessageID: 20, Event: "message.failed", Payload: []byte("{}"), Now: testNow})
		if _, err := db.WebhookOutboxInsertMany(ctx, evs); err != nil {
			t.Fatal(err)
		}
		// Claim all four and kill the rows of messages 10 and 11 and the
		// other webhook's.
		rows, err := db.WebhookOutboxClaim(ctx, &store.WebhookOutboxClaimParams{Holder: "h", Now: testNow, LeaseUntil: testNow.Add(time.Minute), Limit: 10})
		if err != nil || len(rows) != 4 {
			t.Fatalf("claim: %d rows, %v", len(rows), err)
		}
		var dead []int64
		for _, o := range rows {
			f := &store.WebhookOutboxFinishParams{ID: o.ID, Holder: "h", NextAttemptAt: testNow.Add(time.Hour), LastError: "HTTP 500", Now: testNow}
			if o.MessageID != 12 {
				f.Dead = true
				if o.WebhookID == h {
					dead = append(dead, o.ID)
				}
			}
			if ok, err := db.WebhookOutboxFinish(ctx, f); err != nil || !ok {
				t.Fatalf("finish: %v, %v", ok, err)
			}
		}
		list := func(state string, before int64, limit int) []*store.WebhookOutbox {
			t.Helper()
			got, err := db.WebhookOutboxList(ctx, &store.WebhookOutboxListParams{WebhookID: h, State: state, BeforeID: before, Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		got := list("dead", 0, 10)
		if len(got) != 2 || got[0].ID != dead[1] || got[1].ID != dead[0] || got[0].LastError != "HTTP 500" || got[0].Attempts != 1 || got[0].State != "dead" {
			t.Fatalf("dead rows of webhook %d: %+v, want %v newest first", h, got, dead)
		}
		if got := list("", 0, 10); len(got) != 3 {
			t.Fatalf("every row: %d, want 3", len(got))
		}
		if got := list("pending", 0, 10); len(got) != 1 || got[0].MessageID != 12 {
			t.Fatalf("pending rows: %+v", got)
		}
		if got := list("dead", dead[1], 10); len(got) != 1 || got[0].ID != dead[0] {
			t.Fatalf("dead rows before %d: %+v", dead[1], got)
		}
		if _, err := db.WebhookOutboxList(ctx, &store.WebhookOutboxListParams{WebhookID: h}); err == nil {
			t.Fatal("WebhookOutboxList without a limit succeeded")
		}

		// Replay one by id, then the rest; another webhook's and a
		// pending row are not touched.
		at := testNow.Add(2 * time.Minute)
		if n, err := db.WebhookOutboxReplay(ctx, &store.WebhookOutboxReplayParams{WebhookID: h, IDs: []int64{dead[0], rows[0].ID + 1000}, Now: at}); err != nil || n != 1 {
			t.Fatalf("replay one: %d, %v", n, err)
		}
		if n, err := db.WebhookOutboxReplay(ctx, &store.WebhookOutboxReplayParams{WebhookID: h, Now: at}); err != nil || n != 1 {
			t.Fatalf("replay the rest: %d, %v", n, err)
		}
		if n, err := db.WebhookOutboxReplay(ctx, &store.WebhookOutboxReplayParams{WebhookID: h, Now: at}); err != nil || n != 0 {
			t.Fatalf("replay again: %d, %v", n, err)
		}
		again, err := db.WebhookOutboxClaim(ctx, &store.WebhookOutboxClaimParams{Holder: "h", Now: at, LeaseUntil: at.Add(time.Minute), Limit: 10})
		if err != nil || len(again) != 2 {
			t.Fatalf("claim after replay: %d rows, %v; want the 2 replayed", len(again), err)
		}
		for _, o := range again {
			if o.Attempts != 1 || o.WebhookID != h || o.LastError != "HTTP 500" {
				t.Fatalf("replayed row: %+v, want attempts 1 (counted afresh), its last error kept", o)
			}
		}
		if c, _ := db.WebhookOutboxCounts(ctx, other); c["dead"] != 1 {
			t.Fatalf("the other webhook's counts: %v, want its dead row kept", c)
		}
	})
}
