package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/delivery"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/storetest"
	"github.com/wxnotify/wxnotify/token"
)

const (
	bcastApp   = "wx00000000000000b1"
	bcastOther = "wx00000000000000b2"
)

// bcastEnv is one database with two apps and the services of this package
// over it, on a fake clock.
type bcastEnv struct {
	open  storetest.OpenFunc
	st    store.Driver
	box   *seal.Box
	msgs  *delivery.Service
	bcast *delivery.BroadcastService
	mu    sync.Mutex
	now   time.Time
}

func (e *bcastEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *bcastEnv) set(t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = t
}

func newBcastEnv(t *testing.T, engine testdb.Engine) *bcastEnv {
	t.Helper()
	key, _ := seal.ParseKey(seal.GenerateKey())
	box, _ := seal.New(key)
	e := &bcastEnv{open: engine.NewDB(t), box: box, now: time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC)}
	e.st = e.open(t)
	apps := &token.AppService{Store: e.st, Box: box}
	for _, id := range []string{bcastApp, bcastOther} {
		if err := apps.CreateApp(context.Background(), &wxnotify.App{AppID: id, Secret: "s"}); err != nil {
			t.Fatal(err)
		}
	}
	e.msgs = &delivery.Service{Queue: queue.New(e.st), Store: e.st, Apps: apps, Now: e.clock}
	e.bcast = &delivery.BroadcastService{Store: e.st, Messages: e.msgs, Now: e.clock}
	return e
}

// keyCtx acts as an API key for the given apps.
func keyCtx(apps ...string) context.Context {
	return wxnotify.NewContextWithAPIKey(context.Background(), &wxnotify.APIKey{ID: "k", Name: "test", Apps: apps})
}

func recipients(rs ...wxnotify.BroadcastRecipient) iter.Seq2[wxnotify.BroadcastRecipient, error] {
	return func(yield func(wxnotify.BroadcastRecipient, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// generated yields n recipients made on the fly, so the test itself holds
// none of them.
func generated(n int) iter.Seq2[wxnotify.BroadcastRecipient, error] {
	return func(yield func(wxnotify.BroadcastRecipient, error) bool) {
		for i := range n {
			if !yield(wxnotify.BroadcastRecipient{OpenID: fmt.Sprintf("oBCAST%010d", i)}, nil) {
				return
			}
		}
	}
}

func newBroadcast() *wxnotify.Broadcast {
	return &wxnotify.Broadcast{AppID: bcastApp, TemplateID: "TPL", Data: map[string]string{"thing1": "上新", "thing2": "全场"}}
}

func TestBroadcast(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines(t) {
		t.Run(engine.Name, func(t *testing.T) {
			t.Parallel()
			t.Run("OK", func(t *testing.T) {
				t.Parallel()
				e := newBcastEnv(t, engine)
				ctx := keyCtx(bcastApp)
				b := newBroadcast()
				err := e.bcast.CreateBroadcast(ctx, b, recipients(
					wxnotify.BroadcastRecipient{OpenID: "o1"},
					wxnotify.BroadcastRecipient{OpenID: "o2", Data: map[string]string{"thing1": "特价"}},
					wxnotify.BroadcastRecipient{OpenID: "o3"},
				))
				if err != nil {
					t.Fatal(err)
				}
				if b.ID == 0 || b.State != wxnotify.BroadcastAccepted || b.Accepted != 3 {
					t.Fatalf("broadcast=%+v", b)
				}
				got, err := e.bcast.FindBroadcastByID(ctx, b.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.State != wxnotify.BroadcastAccepted || got.Accepted != 3 || got.Total != 3 || got.Pending != 3 ||
					got.Counts[wxnotify.MessageQueued] != 3 || got.Data["thing1"] != "上新" || got.Kind != wxnotify.MessageSubscribe {
					t.Fatalf("FindBroadcastByID=%+v", got)
				}
				rows, err := e.msgs.Store.MessageList(context.Background(), &store.MessageListParams{BroadcastID: b.ID, Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				if len(rows) != 3 {
					t.Fatalf("%d messages, want 3", len(rows))
				}
				for _, m := range rows {
					want := map[string]string{"thing1": "上新", "thing2": "全场"}
					if m.OpenID == "o2" {
						want["thing1"] = "特价"
					}
					var data map[string]string
					if err := json.Unmarshal(m.Data, &data); err != nil {
						t.Fatal(err)
					}
					if m.BroadcastID != b.ID || !maps.Equal(data, want) || m.State != "queued" {
						t.Fatalf("message %d to %s: data %s, want %v", m.ID, m.OpenID, m.Data, want)
					}
				}
				// Another app's key does not see it.
				if _, err := e.bcast.FindBroadcastByID(keyCtx(bcastOther), b.ID); wxnotify.ErrorCode(err) != wxnotify.ENOTFOUND {
					t.Fatalf("FindBroadcastByID by another app's key: %v, want ENOTFOUND", err)
				}
			})
			t.Run("AbortMidStream", func(t *testing.T) {
				t.Parallel()
				e := newBcastEnv(t, engine)
				e.bcast.Chunk = 2
				ctx := keyCtx(bcastApp)
				b := newBroadcast()
				err := e.bcast.CreateBroadcast(ctx, b, recipients(
					wxnotify.BroadcastRecipient{OpenID: "o0"}, wxnotify.BroadcastRecipient{OpenID: "o1"},
					wxnotify.BroadcastRecipient{OpenID: "o2"}, wxnotify.BroadcastRecipient{OpenID: ""},
					wxnotify.BroadcastRecipient{OpenID: "o4"},
				))
				if got, want := wxnotify.ErrorField(err), "recipients[3].openid"; got != want {
					t.Fatalf("err=%v, field %q, want %q", err, got, want)
				}
				got, err := e.bcast.FindBroadcastByID(ctx, b.ID)
				if err != nil {
					t.Fatal(err)
				}
				// The first chunk was stored; the partial one was not.
				if got.State != wxnotify.BroadcastAborted || got.Accepted != 2 || got.Total != 2 || got.Error == "" {
					t.Fatalf("aborted broadcast=%+v", got)
				}
			})
			t.Run("BadOverride", func(t *testing.T) {
				t.Parallel()
				e := newBcastEnv(t, engine)
				b := newBroadcast()
				err := e.bcast.CreateBroadcast(keyCtx(bcastApp), b, recipients(
					wxnotify.BroadcastRecipient{OpenID: "o0"},
					wxnotify.BroadcastRecipient{OpenID: "o1", Data: map[string]string{"thing1": "这个值远远超过了二十个字符的上限所以会被拒绝"}},
				))
				if got, want := wxnotify.ErrorField(err), "recipients[1].data.thing1"; got != want {
					t.Fatalf("err=%v, field %q, want %q", err, got, want)
				}
			})
			t.Run("BadTemplateStoresNothing", func(t *testing.T) {
				t.Parallel()
				e := newBcastEnv(t, engine)
				b := newBroadcast()
				b.Data["bogus"] = "x"
				err := e.bcast.CreateBroadcast(keyCtx(bcastApp), b, generated(10))
				if got, want := wxnotify.ErrorField(err), "data.bogus"; got != want {
					t.Fatalf("err=%v, field %q, want %q", err, got, want)
				}
				if b.ID != 0 {
					t.Fatalf("broadcast %d stored for a bad template", b.ID)
				}
			})
			t.Run("Forbidden", func(t *testing.T) {
				t.Parallel()
				e := newBcastEnv(t, engine)
				b := newBroadcast()
				if err := e.bcast.CreateBroadcast(keyCtx(bcastOther), b, generated(3)); wxnotify.ErrorCode(err) != wxnotify.EFORBIDDEN {
					t.Fatalf("err=%v, want EFORBIDDEN", err)
				}
			})
			t.Run("UnknownApp", func(t *testing.T) {
				t.Parallel()
				e := newBcastEnv(t, engine)
				b := newBroadcast()
				b.AppID = "wx00000000000000b9"
				if err := e.bcast.CreateBroadcast(keyCtx(wxnotify.AllApps), b, generated(3)); wxnotify.ErrorCode(err) != wxnotify.ENOTFOUND {
					t.Fatalf("err=%v, want ENOTFOUND", err)
				}
			})
			t.Run("NoRecipients", func(t *testing.T) {
				t.Parallel()
				e := newBcastEnv(t, engine)
				b := newBroadcast()
				if err := e.bcast.CreateBroadcast(keyCtx(bcastApp), b, generated(0)); wxnotify.ErrorField(err) != "recipients" {
					t.Fatalf("err=%v, want a recipients error", err)
				}
			})
		})
	}
}

// TestBroadcastLarge stores a 100,000-recipient broadcast on SQLite and
// reports the memory it took: the peak live heap must not grow with the
// number of recipients (one chunk of messages at a time).
func TestBroadcastLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large broadcast skipped in -short mode")
	}
	t.Parallel()
	const n = 100_000
	e := newBcastEnv(t, testdb.Engine{Name: "sqlite", NewDB: testdb.NewSQLiteDB})

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	b := newBroadcast()
	err := e.bcast.CreateBroadcast(keyCtx(bcastApp), b, generated(n))
	elapsed := time.Since(start)
	close(done)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if b.Accepted != n {
		t.Fatalf("Accepted=%d, want %d", b.Accepted, n)
	}
	got, err := e.bcast.FindBroadcastByID(keyCtx(bcastApp), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != n || got.Counts[wxnotify.MessageQueued] != n {
		t.Fatalf("counts=%v total=%d, want %d queued", got.Counts, got.Total, n)
	}
	growth := int64(peak.Load()) - int64(before.HeapInuse)
	t.Logf("%d recipients in %v: allocated %.1f MiB in all (%.0f B/recipient); peak heap in use %.1f MiB above the start",
		n, elapsed.Round(time.Millisecond), float64(after.TotalAlloc-before.TotalAlloc)/(1<<20),
		float64(after.TotalAlloc-before.TotalAlloc)/n, float64(growth)/(1<<20))
	// Holding every recipient's message would take over 40 MiB (a Message
	// is ~400 bytes before its strings), and their insert params as much
	// again; one chunk at a time measures under 20 MiB, the rest being GC
	// slack. The bound is loose so that GC timing never fails it.
	if growth > 48<<20 {
		t.Fatalf("peak heap grew %d MiB: recipients are being held in memory", growth>>20)
	}
}
