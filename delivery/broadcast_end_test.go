package delivery_test

import (
	"testing"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/store"
)

// TestBroadcast_Idempotency: the same request under a key answers with the
// first broadcast and stores nothing; another request under it is a
// conflict naming idempotency_key.
func TestBroadcast_Idempotency(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines(t) {
		t.Run(engine.Name, func(t *testing.T) {
			t.Parallel()
			e := newBcastEnv(t, engine)
			ctx := keyCtx(bcastApp)
			send := func(data string, openIDs ...string) (*wxnotify.Broadcast, error) {
				b := newBroadcast()
				b.Data["thing1"], b.IdempotencyKey = data, "campaign-7"
				var rs []wxnotify.BroadcastRecipient
				for _, id := range openIDs {
					rs = append(rs, wxnotify.BroadcastRecipient{OpenID: id})
				}
				return b, e.bcast.CreateBroadcast(ctx, b, recipients(rs...))
			}
			first, err := send("上新", "o1", "o2")
			if err != nil || first.Retried {
				t.Fatalf("first: %+v, %v", first, err)
			}
			again, err := send("上新", "o1", "o2")
			if err != nil || !again.Retried || again.ID != first.ID || again.Accepted != 2 || again.IdempotencyKey != "campaign-7" {
				t.Fatalf("retry: %+v, %v; want broadcast %d again", again, err, first.ID)
			}
			for name, args := range map[string][]string{"OtherData": {"改了", "o1", "o2"}, "OtherRecipients": {"上新", "o1", "o3"}, "MoreRecipients": {"上新", "o1", "o2", "o3"}} {
				if _, err := send(args[0], args[1:]...); wxnotify.ErrorCode(err) != wxnotify.ECONFLICT || wxnotify.ErrorField(err) != "idempotency_key" {
					t.Errorf("%s under the same key: %v, want a conflict on idempotency_key", name, err)
				}
			}
			counts, err := e.st.MessageCounts(ctx, &store.MessageCountsParams{AppID: bcastApp})
			if err != nil || counts["queued"] != 2 {
				t.Fatalf("messages stored: %v, %v; want the first broadcast's 2 only", counts, err)
			}
		})
	}
}

// TestBroadcast_Finished: a broadcast is finished once its last message
// ends, with its outcomes counted by state (no_credit is not failed).
func TestBroadcast_Finished(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines(t) {
		t.Run(engine.Name, func(t *testing.T) {
			t.Parallel()
			e := newBcastEnv(t, engine)
			ctx := keyCtx(bcastApp)
			b := newBroadcast()
			if err := e.bcast.CreateBroadcast(ctx, b, recipients(wxnotify.BroadcastRecipient{OpenID: "o1"}, wxnotify.BroadcastRecipient{OpenID: "o2"})); err != nil {
				t.Fatal(err)
			}
			rows, err := e.st.MessageList(ctx, &store.MessageListParams{BroadcastID: b.ID, Limit: 10})
			if err != nil || len(rows) != 2 {
				t.Fatalf("messages: %d, %v", len(rows), err)
			}
			if _, err := e.msgs.CancelMessage(ctx, rows[0].ID); err != nil {
				t.Fatal(err)
			}
			if got, err := e.bcast.FindBroadcastByID(ctx, b.ID); err != nil || got.State != wxnotify.BroadcastAccepted || got.Pending != 1 {
				t.Fatalf("one message left: %+v, %v; want accepted, pending 1", got, err)
			}
			if _, err := e.st.MessageUpdateMany(ctx, []*store.MessageUpdateParams{{ID: rows[1].ID, State: "no_credit", Now: e.clock()}}); err != nil {
				t.Fatal(err)
			}
			got, err := e.bcast.FindBroadcastByID(ctx, b.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != wxnotify.BroadcastFinished || got.FinishedAt.IsZero() || got.Pending != 0 || got.Total != 2 ||
				got.Counts[wxnotify.MessageCancelled] != 1 || got.Counts[wxnotify.MessageNoCredit] != 1 || got.Counts[wxnotify.MessageFailed] != 0 {
				t.Fatalf("after the last message: %+v", got)
			}
			list, err := e.bcast.FindBroadcasts(ctx, wxnotify.BroadcastFilter{State: new(wxnotify.BroadcastFinished)})
			if err != nil || len(list) != 1 || list[0].ID != b.ID || list[0].Counts[wxnotify.MessageNoCredit] != 1 {
				t.Fatalf("FindBroadcasts finished: %+v, %v", list, err)
			}
			if list, err := e.bcast.FindBroadcasts(keyCtx(bcastOther), wxnotify.BroadcastFilter{}); err != nil || len(list) != 0 {
				t.Fatalf("another app's key lists %d broadcasts (%v), want none", len(list), err)
			}
			if _, err := e.bcast.FindBroadcasts(keyCtx(bcastOther), wxnotify.BroadcastFilter{AppID: new(bcastApp)}); wxnotify.ErrorCode(err) != wxnotify.EFORBIDDEN {
				t.Fatalf("another app's key asking for app %s: %v, want EFORBIDDEN", bcastApp, err)
			}
		})
	}
}
