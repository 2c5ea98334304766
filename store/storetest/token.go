package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/store"
)

func exerciseToken(t *testing.T, setup func(t *testing.T) (context.Context, store.Driver, OpenFunc)) {
	// setupApp is setup with one app, testAppID(1), and no token row.
	setupApp := func(t *testing.T) (context.Context, store.Driver) {
		t.Helper()
		ctx, s, _ := setup(t)
		insertApp(ctx, t, s, testAppID(1))
		return ctx, s
	}
	app := testAppID(1)
	until := testNow.Add(time.Minute)

	t.Run("GetErrNotFound", func(t *testing.T) {
		t.Parallel()
		ctx, s := setupApp(t)
		if _, err := s.TokenGet(ctx, app); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("TokenGet before any lease: err=%v, want ErrNotFound", err)
		}
		if _, err := s.TokenGet(ctx, testAppID(9)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("TokenGet of a missing app: err=%v, want ErrNotFound", err)
		}
	})

	t.Run("LeaseAcquireFreeCreatesRow", func(t *testing.T) {
		t.Parallel()
		ctx, s := setupApp(t)
		mustAcquire(ctx, t, s, app, "a", testNow, until)
		tok := mustGet(ctx, t, s, app)
		if got, want := tok.AppID, app; got != want {
			t.Errorf("AppID=%q, want %q", got, want)
		}
		if got, want := tok.LeaseHolder, "a"; got != want {
			t.Errorf("LeaseHolder=%q, want %q", got, want)
		}
		checkTime(t, "LeaseUntil", tok.LeaseUntil, until)
		if tok.ValueSealed != nil || tok.Generation != 0 || tok.Fetches != 0 || tok.LastError != "" {
			t.Errorf("new row: ValueSealed=%x Generation=%d Fetches=%d LastError=%q, want nil 0 0 \"\"",
				tok.ValueSealed, tok.Generation, tok.Fetches, tok.LastError)
		}
		for name, tm := range map[string]time.Time{
			"ExpiresAt": tok.ExpiresAt, "FetchedAt": tok.FetchedAt, "LastErrorAt": tok.LastErrorAt, "RetryAt": tok.RetryAt,
		} {
			if !tm.IsZero() {
				t.Errorf("new row: %s=%v, want zero", name, tm)
			}
		}
	})

	t.Run("LeaseAcquireErrNotFound", func(t *testing.T) {
		t.Parallel()
		ctx, s := setupApp(t)
		ok, err := s.TokenLeaseAcquire(ctx, &store.TokenLeaseAcquireParams{
			AppID: testAppID(9), Holder: "a", Now: testNow, Until: until,
		})
		if !errors.Is(err, store.ErrNotFound) || ok {
			t.Fatalf("TokenLeaseAcquire for a missing app=%v, %v; want false, ErrNotFound", ok, err)
		}
	})

	t.Run("LeaseAcquireInvalid", func(t *testing.T) {
		t.Parallel()
		ctx, s := setupApp(t)
		for name, p := range map[string]*store.TokenLeaseAcquireParams{
			"NoHolder":         {AppID: app, Now: testNow, Until: until},
			"NoAppID":          {Holder: "a", Now: testNow, Until: until},
			"UntilNotAfterNow": {AppID: app, Holder: "a", Now: testNow, Until: testNow},
		} {
			if ok, err := s.TokenLeaseAcquire(ctx, p); err == nil || ok {
				t.Errorf("%s: TokenLeaseAcquire=%v, %v; want an error", name, ok, err)
			}
		}
		if _, err := s.TokenGet(ctx, app); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("TokenGet after invalid acquires: err=%v, want ErrNotFound", err)
		}
	})

	t.Run("LeaseHeldByOther", func(t *testing.T) {
		t.Parallel()
		ctx, s := setupApp(t)
		mustAcquire(ctx, t, s, app, "a", testNow, until)
		// Up to the last microsecond before Until, b cannot take it.
		for _, now := range []time.Time{testNow, until.Add(-time.Microsecond)} {
			ok, err := s.TokenLeaseAcquire(ctx, &store.TokenLeaseAcquireParams{
				AppID: app, Holder: "b", Now: now, Until: now.Add(time.Hour),
			})
			if err != nil || ok {
				t.Fatalf("TokenLeaseAcquire by b at %v=%v, %v; want false", now, ok, err)
			}
		}
		tok := mustGet(ctx, t, s, app)
		if got, want := tok.LeaseHolder, "a"; got != want {
			t.Fatalf("LeaseHolder=%q, want %q (unchanged)", got, want)
		}
		checkTime(t, "LeaseUntil", tok.LeaseUntil, until)
	})

	t.Run("LeaseExpiredAtUntil", func(t *testing.T) {
		t.Parallel()
		ctx, s := setupApp(t)
		mustAcquire(ctx, t, s, app, "a", testNow, until)
		// At Now == Until the lease has expired (half-open interval).
		mustAcquire(ctx, t, s, app, "b", until, until.Add(time.Minute))
		tok := mustGet(ctx, t, s, app)
		if got, want := tok.LeaseHolder, "b"; got != want {
			t.Fatalf("LeaseHolder=%q, want %q", got, want)
		}
		checkTime(t, "LeaseUntil", tok.LeaseUntil, until.Add(time.Minute))
	})

	t.Run("LeaseSameHolderExtends", func(t *testing.T) {
		t.Parallel()
		ctx, s := setupApp(t)
		mustAcquire(ctx, t, s, app, "a", testNow, until)
		later := testNow.Add(30 * time.Second)
		mustAcquire(ctx, t, s, app, "a", later, later.Add(5*time.Minute))
		tok := mustGet(ctx, t, s, app)
		if got, want := tok.LeaseHolder, "a"; got != want {
			t.Fatalf("LeaseHolder=%q, want %q", got, want)
		}
		checkTime(t, "LeaseUntil", tok.LeaseUntil, later.Add(5*time.Minute))
	})

	t.Run("LeaseRelease", func(t *testing.T) {
		t.Parallel()
		ctx, s := setupApp(t)
		// Releasing with no row, or a lease one does not hold, is a no-op.
		if err := s.TokenLeaseRelease(ctx, app, "a"); err != nil {
			t.Fatalf("TokenLeaseRelease without a row: %v", err)
		}
		mustAcquire(ctx, t, s, app, "a", testNow, until)
		if err := s.TokenLeaseRelease(ctx, app, "b"); err != nil {
			t.Fatalf("TokenLeaseRelease by b: %v", err)
		}
		if got, want := mustGet(ctx, t, s, app).LeaseHolder, "a"; got != want {
			t.Fatalf("LeaseHolder after release by b=%q, want %q", got, want)
		}
		if err := s.TokenLeaseRelease(ctx, app, "a"); err != nil {
			t.Fatalf("TokenLeaseRelease by a: %v", err)
		}
		tok := mustGet(ctx, t, s, app)
		if tok.LeaseHolder != "" || !tok.LeaseUntil.IsZero() {
			t.Fatalf("after release: LeaseHolder=%q LeaseUntil=%v, want free", tok.LeaseHolder, tok.LeaseUntil)
		}
		mustAcquire(ctx, t, s, app, "b", testNow, until)
	})

	t.Run("Save", func(t *testing.T) {
		t.Parallel()
		ctx, s := setupApp(t)
		mustAcquire(ctx, t, s, app, "a", testNow, until)
		fetched := testNow.Add(time.Second)
		ok, err := s.TokenSave(ctx, &store.TokenSaveParams{
			AppID: app, Holder: "a", ValueSealed: []byte("token 1"), ExpiresAt: fetched.Add(2 * time.Hour), Now: fetched,
		})
		if err != nil || !ok {
			t.Fatalf("TokenSave=%v, %v; want true", ok, err)
		}
		tok := mustGet(ctx, t, s, app)
		if got, want := tok.ValueSealed, []byte("token 1"); !bytes.Equal(got, want) {
			t.Errorf("ValueSealed=%q, want %q", got, want)
		}
		checkTime(t, "ExpiresAt", tok.ExpiresAt, fetched.Add(2*time.Hour))
		checkTime(t, "FetchedAt", tok.FetchedAt, fetched)
		if tok.Generation != 1 || tok.Fetches != 1 {
			t.Errorf("Generation=%d Fetches=%d, want 1 1", tok.Generation, tok.Fetches)
		}
		// Saving does not release the lease.
		if got, want := tok.LeaseHolder, "a"; got != want {
			t.Errorf("LeaseHolder=%q, want %q (still held)", got, want)
		}
		checkTime(t, "LeaseUntil", tok.LeaseUntil, until)

		mustSave(ctx, t, s, app, "a", fetched.Add(time.Second))
		if tok := mustGet(ctx, t, s, app); tok.Generation != 2 || tok.Fetches != 2 {
			t.Errorf("after second save: Generation=%d Fetches=%d, want 2 2", tok.Generation, tok.Fetches)
		}
	})

	t.Run("SaveOnlyByHolder", func(t *testing.T) {
		t.Parallel()
		ctx, s := setupApp(t)
		save := func(holder string, now time.Time) bool {
			t.Helper()
			ok, err := s.TokenSave(ctx, &store.TokenSaveParams{
				AppID: app, Holder: holder, ValueSealed: []byte("token " + holder), ExpiresAt: now.Add(time.Hour), Now: now,
			})
			if err != nil {
				t.Fatalf("TokenSave: %v", err)
			}
			return ok
		}
		if save("a", testNow) {
			t.Fatal("TokenSave without a row=true, want false")
		}
		mustAcquire(ctx, t, s, app, "a", testNow, until)
		mustSave(ctx, t, s, app, "a", testNow)
		if save("b", testNow) {
			t.Fatal("TokenSave by b while a holds the lease=true, want false")
		}
		if save("a", until) {
			t.Fatal("TokenSave by a at Until (expired)=true, want false")
		}
		if err := s.TokenLeaseRelease(ctx, app, "a"); err != nil {
			t.Fatal(err)
		}
		if save("a", testNow) {
			t.Fatal("TokenSave by a after release=true, want false")
		}
		tok := mustGet(ctx, t, s, app)
		if got, want := tok.ValueSealed, []byte("sealed token a"); !bytes.Equal(got, want) {
			t.Errorf("ValueSealed=%q, want %q (unchanged)", got, want)
		}
		if tok.Generation != 1 || tok.Fetches != 1 {
			t.Errorf("Generation=%d Fetches=%d, want 1 1 (unchanged)", tok.Generation, tok.Fetches)
		}
	})

	t.Run("SaveError", func(t *testing.T) {
		t.Parallel()
		ctx, s := setupApp(t)
		mustAcquire(ctx, t, s, app, "a", testNow, until)
		mustSave(ctx, t, s, app, "a", testNow)
		failedAt := testNow.Add(time.Second)
		if err := s.TokenSaveError(ctx, &store.TokenSaveErrorParams{
			AppID: app, Holder: "a", Message: "errcode=40013 invalid appid", Now: failedAt, RetryAt: failedAt.Add(30 * time.Second),
		}); err != nil {
			t.Fatalf("TokenSaveError: %v", err)
		}
		tok := mustGet(ctx, t, s, app)
		if got, want := tok.LastError, "errcode=40013 invalid appid"; got != want {
			t.Errorf("LastError=%q, want %q", got, want)
		}
		checkTime(t, "LastErrorAt", tok.LastErrorAt, failedAt)
		checkTime(t, "RetryAt", tok.RetryAt, failedAt.Add(30*time.Second))
		// A failure leaves the stored token and its counters alone.
		if got, want := tok.ValueSealed, []byte("sealed token a"); !bytes.Equal(got, want) {
			t.Errorf("ValueSealed=%q, want %q", got, want)
		}
		if tok.Generation != 1 || tok.Fetches != 1 {
			t.Errorf("Generation=%d Fetches=%d, want 1 1", tok.Generation, tok.Fetches)
		}

		// The next successful save clears the error.
		mustSave(ctx, t, s, app, "a", failedAt.Add(time.Second))
		tok = mustGet(ctx, t, s, app)
		if tok.LastError != "" || !tok.LastErrorAt.IsZero() || !tok.RetryAt.IsZero() {
			t.Errorf("after save: LastError=%q LastErrorAt=%v RetryAt=%v, want cleared", tok.LastError, tok.LastErrorAt, tok.RetryAt)
		}
		if tok.Generation != 2 {
			t.Errorf("Generation=%d, want 2", tok.Generation)
		}
	})

	t.Run("SaveErrorOnlyByHolder", func(t *testing.T) {
		t.Parallel()
		ctx, s := setupApp(t)
		saveError := func(holder string, now time.Time) {
			t.Helper()
			if err := s.TokenSaveError(ctx, &store.TokenSaveErrorParams{
				AppID: app, Holder: holder, Message: "by " + holder, Now: now, RetryAt: now.Add(time.Minute),
			}); err != nil {
				t.Fatalf("TokenSaveError by %s: %v", holder, err)
			}
		}
		saveError("a", testNow) // no row: no-op, no error
		mustAcquire(ctx, t, s, app, "a", testNow, until)
		saveError("b", testNow)
		saveError("a", until) // expired
		tok := mustGet(ctx, t, s, app)
		if tok.LastError != "" || !tok.LastErrorAt.IsZero() || !tok.RetryAt.IsZero() {
			t.Fatalf("LastError=%q LastErrorAt=%v RetryAt=%v, want unset", tok.LastError, tok.LastErrorAt, tok.RetryAt)
		}
	})
}

func mustAcquire(ctx context.Context, t *testing.T, s store.Executor, appID, holder string, now, until time.Time) {
	t.Helper()
	ok, err := s.TokenLeaseAcquire(ctx, &store.TokenLeaseAcquireParams{AppID: appID, Holder: holder, Now: now, Until: until})
	if err != nil || !ok {
		t.Fatalf("TokenLeaseAcquire(%s, %s)=%v, %v; want true", appID, holder, ok, err)
	}
}

// mustSave saves the token "sealed token <holder>", expiring an hour after now.
func mustSave(ctx context.Context, t *testing.T, s store.Executor, appID, holder string, now time.Time) {
	t.Helper()
	ok, err := s.TokenSave(ctx, &store.TokenSaveParams{
		AppID: appID, Holder: holder, ValueSealed: []byte("sealed token " + holder), ExpiresAt: now.Add(time.Hour), Now: now,
	})
	if err != nil || !ok {
		t.Fatalf("TokenSave(%s, %s)=%v, %v; want true", appID, holder, ok, err)
	}
}

func mustGet(ctx context.Context, t *testing.T, s store.Executor, appID string) *store.Token {
	t.Helper()
	tok, err := s.TokenGet(ctx, appID)
	if err != nil {
		t.Fatalf("TokenGet(%s): %v", appID, err)
	}
	return tok
}
