package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/store"
)

// exerciseRate checks the shared token buckets.
func exerciseRate(t *testing.T, newDB NewDBFunc) {
	t.Run("TakeRefill", func(t *testing.T) {
		t.Parallel()
		ctx, s := t.Context(), newDB(t)(t)
		take := func(rate float64, want int) store.RateTaken {
			t.Helper()
			got, err := s.RateTake(ctx, &store.RateTakeParams{Key: "send:a", Rate: rate, Burst: 5, Want: want})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		// A new bucket starts full; a slow refill gives nothing more soon.
		if got := take(0.001, 3); got.Granted != 3 || got.Left < 1.99 || got.Left > 2.01 {
			t.Fatalf("first take of 3 from a bucket of 5: %+v", got)
		}
		if got := take(0.001, 3); got.Granted != 2 {
			t.Fatalf("second take of 3 with 2 left: %+v, want 2", got)
		}
		if got := take(0.001, 1); got.Granted != 0 || got.Left >= 1 {
			t.Fatalf("take from an empty bucket: %+v, want none", got)
		}
		// At 1,000 a second, 20 ms refill the bucket of 5 (more time only
		// fills it to its size).
		time.Sleep(20 * time.Millisecond)
		if got := take(1000, 10); got.Granted != 5 {
			t.Fatalf("take of 10 after a refill: %+v, want the bucket's 5", got)
		}
		if _, err := s.RateTake(ctx, &store.RateTakeParams{Key: "", Rate: 1, Burst: 1, Want: 1}); err == nil {
			t.Fatal("a take without a key was accepted")
		}
	})
	t.Run("Seen", func(t *testing.T) {
		t.Parallel()
		ctx, open := t.Context(), newDB(t)
		a, b := open(t), open(t) // two instances
		add := func(s store.Driver, key string, now time.Time) bool {
			t.Helper()
			ok, err := s.SeenAdd(ctx, key, now, now.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !add(a, "k1", testNow) || add(b, "k1", testNow.Add(time.Second)) {
			t.Fatal("a key seen by one instance was new to the other")
		}
		if !add(b, "k1", testNow.Add(2*time.Minute)) {
			t.Fatal("an expired key was not new again")
		}
		if err := a.SeenRemove(ctx, "k1"); err != nil {
			t.Fatal(err)
		}
		if !add(b, "k1", testNow.Add(2*time.Minute)) {
			t.Fatal("a removed key was not new again")
		}
		add(a, "k2", testNow)
		if n, err := a.SeenPurge(ctx, testNow.Add(90*time.Second)); err != nil || n != 1 {
			t.Fatalf("SeenPurge=%d, %v; want 1 (k2; k1 was seen again later)", n, err)
		}
	})
	t.Run("NeverMoreThanTheBucket", func(t *testing.T) {
		// Four instances drain one bucket at once: together they get its
		// 100 tokens, not one more.
		t.Parallel()
		ctx, open := t.Context(), newDB(t)
		var (
			mu    sync.Mutex
			total int
			wg    sync.WaitGroup
		)
		for range 4 {
			s := open(t)
			wg.Go(func() {
				for {
					got, err := s.RateTake(ctx, &store.RateTakeParams{Key: "send:b", Rate: 0.001, Burst: 100, Want: 7})
					if err != nil {
						t.Error(err)
						return
					}
					if got.Granted == 0 {
						return
					}
					mu.Lock()
					total += got.Granted
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if total != 100 {
			t.Fatalf("four instances took %d tokens from a bucket of 100", total)
		}
	})
}
