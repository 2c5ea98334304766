package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
)

// Exercise runs the conformance suite: every rule in the doc comments of
// store.Driver and store.Executor, and the queue's rules over them (package
// queue), against databases made by newDB. Each subtest is parallel and
// gets a fresh database. A driver's test only builds newDB and calls this; a
// new rule gets its test here, not in one driver.
func Exercise(t *testing.T, newDB NewDBFunc) {
	t.Helper()

	// setup gives a subtest a fresh database and one Driver on it.
	setup := func(t *testing.T) (context.Context, store.Driver, OpenFunc) {
		t.Helper()
		open := newDB(t)
		return t.Context(), open(t), open
	}

	t.Run("Store", func(t *testing.T) {
		t.Parallel()
		t.Run("EngineAndMigrateAgain", func(t *testing.T) {
			t.Parallel()
			ctx, s, _ := setup(t)
			if e := s.Engine(); e != "sqlite" && e != "postgres" {
				t.Fatalf("Engine()=%q, want sqlite or postgres", e)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("second Migrate: %v", err)
			}
			insertApp(ctx, t, s, testAppID(1))
		})
		t.Run("SecondStoreSeesWrites", func(t *testing.T) {
			t.Parallel()
			ctx, s1, open := setup(t)
			s2 := open(t)
			insertApp(ctx, t, s1, testAppID(1))
			if _, err := s2.AppGet(ctx, testAppID(1)); err != nil {
				t.Fatalf("AppGet on second store: %v", err)
			}
		})

		t.Run("ClosedIsUnavailable", func(t *testing.T) {
			// A database that cannot serve is ErrUnavailable, and so
			// EUNAVAILABLE to callers (503, retry later), from every kind
			// of call: a read, a write, a batch, a transaction; an error of
			// the statement itself is not.
			t.Parallel()
			ctx, s, _ := setup(t)
			insertApp(ctx, t, s, testAppID(1))
			if _, err := s.AppGet(ctx, testAppID(2)); !errors.Is(err, store.ErrNotFound) || store.IsUnavailable(err) {
				t.Fatalf("AppGet of a missing app: err=%v, want ErrNotFound only", err)
			}
			if err := s.AppInsert(ctx, &store.AppInsertParams{AppID: testAppID(1), SecretSealed: []byte{1}, TokenMode: "legacy", Now: testNow}); !errors.Is(err, store.ErrConflict) || store.IsUnavailable(err) {
				t.Fatalf("AppInsert of a taken appid: err=%v, want ErrConflict only", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			calls := map[string]func() error{
				"AppGet":  func() error { _, err := s.AppGet(ctx, testAppID(1)); return err },
				"AppList": func() error { _, err := s.AppList(ctx); return err },
				"AppInsert": func() error {
					return s.AppInsert(ctx, &store.AppInsertParams{AppID: testAppID(3), SecretSealed: []byte{1}, TokenMode: "legacy", Now: testNow})
				},
				"MessageInsertMany": func() error {
					_, err := s.MessageInsertMany(ctx, []*store.MessageInsertParams{{
						AppID: testAppID(1), OpenID: "o1", Kind: "subscribe", TemplateID: "T", Data: []byte(`{}`),
						RunAt: testNow, ExpiresAt: testNow.Add(time.Hour), Now: testNow,
					}})
					return err
				},
				"Begin": func() error {
					tx, err := s.Begin(ctx)
					if err == nil {
						_, err = tx.AppList(ctx)
						tx.Rollback(ctx)
					}
					return err
				},
			}
			for name, call := range calls {
				err := call()
				if !store.IsUnavailable(err) || !errors.Is(err, store.ErrUnavailable) {
					t.Errorf("%s on a closed database: err=%v, want ErrUnavailable", name, err)
				}
				if got := wxnotify.ErrorCode(err); got != wxnotify.EUNAVAILABLE {
					t.Errorf("%s on a closed database: code %q, want %q", name, got, wxnotify.EUNAVAILABLE)
				}
			}
		})
	})

	t.Run("App", func(t *testing.T) {
		t.Parallel()
		t.Run("InsertGet", func(t *testing.T) {
			t.Parallel()
			ctx, s, _ := setup(t)
			p := &store.AppInsertParams{
				AppID:        testAppID(1),
				Name:         "测试小程序",
				SecretSealed: []byte{0x00, 0x01, 0xfe, 0xff},
				TokenMode:    "legacy",
				Now:          testNow,
			}
			if err := s.AppInsert(ctx, p); err != nil {
				t.Fatalf("AppInsert: %v", err)
			}
			app, err := s.AppGet(ctx, p.AppID)
			if err != nil {
				t.Fatalf("AppGet: %v", err)
			}
			if got, want := app.AppID, p.AppID; got != want {
				t.Errorf("AppID=%q, want %q", got, want)
			}
			if got, want := app.Name, p.Name; got != want {
				t.Errorf("Name=%q, want %q", got, want)
			}
			if got, want := app.SecretSealed, p.SecretSealed; !bytes.Equal(got, want) {
				t.Errorf("SecretSealed=%x, want %x", got, want)
			}
			if got, want := app.TokenMode, p.TokenMode; got != want {
				t.Errorf("TokenMode=%q, want %q", got, want)
			}
			checkTime(t, "CreatedAt", app.CreatedAt, testNow)
		})
		t.Run("ErrConflict", func(t *testing.T) {
			t.Parallel()
			ctx, s, _ := setup(t)
			insertApp(ctx, t, s, testAppID(1))
			err := s.AppInsert(ctx, &store.AppInsertParams{
				AppID: testAppID(1), Name: "other", SecretSealed: []byte("x"), TokenMode: "stable", Now: testNow,
			})
			if !errors.Is(err, store.ErrConflict) {
				t.Fatalf("AppInsert duplicate: err=%v, want ErrConflict", err)
			}
			app, err := s.AppGet(ctx, testAppID(1))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := app.Name, "app 1"; got != want {
				t.Fatalf("Name=%q after conflict, want %q (unchanged)", got, want)
			}
		})
		t.Run("GetErrNotFound", func(t *testing.T) {
			t.Parallel()
			ctx, s, _ := setup(t)
			if _, err := s.AppGet(ctx, testAppID(1)); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("AppGet: err=%v, want ErrNotFound", err)
			}
		})
		t.Run("ListOrderedByAppID", func(t *testing.T) {
			t.Parallel()
			ctx, s, _ := setup(t)
			apps, err := s.AppList(ctx)
			if err != nil {
				t.Fatalf("AppList empty: %v", err)
			} else if len(apps) != 0 {
				t.Fatalf("AppList empty: %d apps, want 0", len(apps))
			}
			for _, i := range []int{3, 1, 2} {
				insertApp(ctx, t, s, testAppID(i))
			}
			apps, err = s.AppList(ctx)
			if err != nil {
				t.Fatalf("AppList: %v", err)
			}
			var got []string
			for _, a := range apps {
				got = append(got, a.AppID)
			}
			if want := []string{testAppID(1), testAppID(2), testAppID(3)}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("AppList=%v, want %v", got, want)
			}
			if got, want := string(apps[0].SecretSealed), "sealed "+testAppID(1); got != want {
				t.Fatalf("SecretSealed=%q, want %q", got, want)
			}
			checkTime(t, "CreatedAt", apps[0].CreatedAt, testNow)
		})
		t.Run("Delete", func(t *testing.T) {
			t.Parallel()
			ctx, s, _ := setup(t)
			insertApp(ctx, t, s, testAppID(1))
			insertApp(ctx, t, s, testAppID(2))
			if err := s.AppDelete(ctx, testAppID(1)); err != nil {
				t.Fatalf("AppDelete: %v", err)
			}
			if _, err := s.AppGet(ctx, testAppID(1)); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("AppGet after delete: err=%v, want ErrNotFound", err)
			}
			if _, err := s.AppGet(ctx, testAppID(2)); err != nil {
				t.Fatalf("AppGet of the other app: %v", err)
			}
		})
		t.Run("DeleteErrNotFound", func(t *testing.T) {
			t.Parallel()
			ctx, s, _ := setup(t)
			if err := s.AppDelete(ctx, testAppID(1)); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("AppDelete: err=%v, want ErrNotFound", err)
			}
		})
		t.Run("DeleteCascadesToken", func(t *testing.T) {
			t.Parallel()
			ctx, s, _ := setup(t)
			insertApp(ctx, t, s, testAppID(1))
			insertApp(ctx, t, s, testAppID(2))
			mustAcquire(ctx, t, s, testAppID(1), "a", testNow, testNow.Add(time.Minute))
			mustAcquire(ctx, t, s, testAppID(2), "a", testNow, testNow.Add(time.Minute))
			mustSave(ctx, t, s, testAppID(1), "a", testNow)
			if err := s.AppDelete(ctx, testAppID(1)); err != nil {
				t.Fatalf("AppDelete: %v", err)
			}
			if _, err := s.TokenGet(ctx, testAppID(1)); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("TokenGet after AppDelete: err=%v, want ErrNotFound", err)
			}
			if _, err := s.TokenGet(ctx, testAppID(2)); err != nil {
				t.Fatalf("TokenGet of the other app: %v", err)
			}
			// A new app with the same appid starts without a token.
			insertApp(ctx, t, s, testAppID(1))
			if _, err := s.TokenGet(ctx, testAppID(1)); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("TokenGet after re-insert: err=%v, want ErrNotFound", err)
			}
		})
	})

	t.Run("Token", func(t *testing.T) {
		t.Parallel()
		exerciseToken(t, setup)
	})

	t.Run("Broadcast", func(t *testing.T) { t.Parallel(); exerciseBroadcast(t, newDB) })
	t.Run("BroadcastEnd", func(t *testing.T) { t.Parallel(); exerciseBroadcastEnd(t, newDB) })

	t.Run("Template", func(t *testing.T) { t.Parallel(); exerciseTemplate(t, newDB) })

	t.Run("APIKey", func(t *testing.T) {
		t.Parallel()
		exerciseAPIKey(t, newDB)
	})

	t.Run("Credit", func(t *testing.T) { t.Parallel(); exerciseCredit(t, newDB) })

	t.Run("Session", func(t *testing.T) { t.Parallel(); exerciseSession(t, newDB) })

	t.Run("Message", func(t *testing.T) { t.Parallel(); exerciseMessage(t, newDB) })

	t.Run("DailySend", func(t *testing.T) { t.Parallel(); exerciseDailySend(t, newDB) })

	t.Run("Rate", func(t *testing.T) { t.Parallel(); exerciseRate(t, newDB) })

	t.Run("Tx", func(t *testing.T) { t.Parallel(); exerciseTx(t, newDB) })

	t.Run("Primitives", func(t *testing.T) { t.Parallel(); exercisePrimitives(t, newDB) })

	t.Run("Queue", func(t *testing.T) { t.Parallel(); exerciseQueue(t, newDB); exerciseRetry(t, newDB) })

	t.Run("Audit", func(t *testing.T) { t.Parallel(); exerciseAudit(t, newDB) })

	t.Run("History", func(t *testing.T) { t.Parallel(); exerciseHistory(t, newDB) })

	t.Run("Time", func(t *testing.T) {
		t.Parallel()
		t.Run("RoundTripTruncatedUTC", func(t *testing.T) {
			t.Parallel()
			ctx, s, _ := setup(t)
			shanghai := time.FixedZone("CST", 8*60*60)
			for i, in := range []time.Time{
				time.Date(2025, 3, 1, 20, 0, 0, 123456789, shanghai), // nanoseconds are cut
				time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC),
				time.Date(2106, 2, 7, 6, 28, 16, 1000, time.UTC), // past 32-bit seconds
				time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).Add(500 * time.Nanosecond),
			} {
				appID := testAppID(i + 1)
				if err := s.AppInsert(ctx, &store.AppInsertParams{
					AppID: appID, Name: "t", SecretSealed: []byte("x"), TokenMode: "stable", Now: in,
				}); err != nil {
					t.Fatalf("AppInsert: %v", err)
				}
				app, err := s.AppGet(ctx, appID)
				if err != nil {
					t.Fatal(err)
				}
				checkTime(t, fmt.Sprintf("CreatedAt[%d]", i), app.CreatedAt, in)

				mustAcquire(ctx, t, s, appID, "a", in, in.Add(time.Hour))
				if ok, err := s.TokenSave(ctx, &store.TokenSaveParams{
					AppID: appID, Holder: "a", ValueSealed: []byte("v"), ExpiresAt: in.Add(2 * time.Hour), Now: in,
				}); err != nil || !ok {
					t.Fatalf("TokenSave=%v, %v", ok, err)
				}
				tok, err := s.TokenGet(ctx, appID)
				if err != nil {
					t.Fatal(err)
				}
				checkTime(t, fmt.Sprintf("FetchedAt[%d]", i), tok.FetchedAt, in)
				checkTime(t, fmt.Sprintf("ExpiresAt[%d]", i), tok.ExpiresAt, in.Add(2*time.Hour))
				checkTime(t, fmt.Sprintf("LeaseUntil[%d]", i), tok.LeaseUntil, in.Add(time.Hour))
			}
		})
		t.Run("SubMicrosecondDoesNotExtendLease", func(t *testing.T) {
			// Until is truncated before it is stored, so the lease has
			// expired at Until.Truncate(TimePrecision) on every engine.
			t.Parallel()
			ctx, s, _ := setup(t)
			insertApp(ctx, t, s, testAppID(1))
			until := testNow.Truncate(time.Second).Add(time.Minute + 900*time.Nanosecond)
			mustAcquire(ctx, t, s, testAppID(1), "a", testNow, until)
			ok, err := s.TokenLeaseAcquire(ctx, &store.TokenLeaseAcquireParams{
				AppID: testAppID(1), Holder: "b", Now: until.Truncate(time.Microsecond), Until: until.Add(time.Minute),
			})
			if err != nil || !ok {
				t.Fatalf("TokenLeaseAcquire at truncated Until=%v, %v; want true", ok, err)
			}
		})
	})

	t.Run("Concurrency", func(t *testing.T) {
		t.Parallel()
		t.Run("LeaseAcquireOneWinnerAcrossStores", func(t *testing.T) {
			t.Parallel()
			ctx, s, open := setup(t)
			insertApp(ctx, t, s, testAppID(1))
			const instances, rounds = 8, 5
			stores := []store.Driver{s}
			for len(stores) < instances {
				stores = append(stores, open(t))
			}
			for round := range rounds {
				// Each round starts after the previous round's lease expired.
				now := testNow.Add(time.Duration(round) * time.Hour)
				var (
					start = make(chan struct{})
					wg    sync.WaitGroup
					won   = make([]bool, instances)
					errs  = make([]error, instances)
				)
				for i, st := range stores {
					wg.Go(func() {
						<-start
						won[i], errs[i] = st.TokenLeaseAcquire(ctx, &store.TokenLeaseAcquireParams{
							AppID: testAppID(1), Holder: fmt.Sprintf("instance-%d", i), Now: now, Until: now.Add(time.Minute),
						})
					})
				}
				close(start)
				wg.Wait()
				winner := -1
				for i := range instances {
					if errs[i] != nil {
						t.Fatalf("round %d: instance %d: %v", round, i, errs[i])
					}
					if won[i] {
						if winner >= 0 {
							t.Fatalf("round %d: instances %d and %d both acquired the lease", round, winner, i)
						}
						winner = i
					}
				}
				if winner < 0 {
					t.Fatalf("round %d: no instance acquired the lease", round)
				}
				tok, err := s.TokenGet(ctx, testAppID(1))
				if err != nil {
					t.Fatal(err)
				}
				if got, want := tok.LeaseHolder, fmt.Sprintf("instance-%d", winner); got != want {
					t.Fatalf("round %d: LeaseHolder=%q, want winner %q", round, got, want)
				}
			}
		})
	})
}

// testNow is the suite's clock: UTC, with nanoseconds the store must cut.
var testNow = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

// testAppID returns a well-formed appid that sorts by i.
func testAppID(i int) string { return fmt.Sprintf("wx%016d", i) }

// insertApp inserts an app named "app N" with secret "sealed <appid>".
func insertApp(ctx context.Context, t *testing.T, s store.Executor, appID string) {
	t.Helper()
	if err := s.AppInsert(ctx, &store.AppInsertParams{
		AppID: appID, Name: "app " + appID[len(appID)-1:], SecretSealed: []byte("sealed " + appID),
		TokenMode: "stable", Now: testNow,
	}); err != nil {
		t.Fatalf("AppInsert %s: %v", appID, err)
	}
}

// checkTime checks that got is want as stored: UTC, truncated to
// store.TimePrecision.
func checkTime(t *testing.T, name string, got, want time.Time) {
	t.Helper()
	want = want.UTC().Truncate(store.TimePrecision)
	if !got.Equal(want) {
		t.Errorf("%s=%v, want %v", name, got, want)
	}
	if !got.IsZero() && got.Location() != time.UTC {
		t.Errorf("%s location=%v, want UTC", name, got.Location())
	}
}
