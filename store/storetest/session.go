package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/store"
)

// exerciseSession checks the mini-program session and app callback methods.
func exerciseSession(t *testing.T, newDB NewDBFunc) {
	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	session := func(token, appID string, expires time.Time) *store.SessionInsertParams {
		return &store.SessionInsertParams{
			TokenHash: hash(token), AppID: appID, OpenID: "o-" + token,
			SessionKeySealed: []byte("sealed key " + token), Now: testNow, ExpiresAt: expires,
		}
	}

	t.Run("InsertGet", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := newDB(t)(t)
		insertApp(ctx, t, s, testAppID(1))
		p := session("a", testAppID(1), testNow.Add(time.Hour))
		if err := s.SessionInsert(ctx, p); err != nil {
			t.Fatalf("SessionInsert: %v", err)
		}
		got, err := s.SessionGet(ctx, hash("a"))
		if err != nil {
			t.Fatalf("SessionGet: %v", err)
		}
		if !bytes.Equal(got.TokenHash, p.TokenHash) || got.AppID != p.AppID || got.OpenID != p.OpenID ||
			!bytes.Equal(got.SessionKeySealed, p.SessionKeySealed) {
			t.Fatalf("SessionGet=%+v, want %+v", got, p)
		}
		checkTime(t, "CreatedAt", got.CreatedAt, testNow)
		checkTime(t, "ExpiresAt", got.ExpiresAt, testNow.Add(time.Hour))
		if _, err := s.SessionGet(ctx, hash("b")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("SessionGet unknown: err=%v, want ErrNotFound", err)
		}
	})
	t.Run("InsertErrors", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := newDB(t)(t)
		insertApp(ctx, t, s, testAppID(1))
		if err := s.SessionInsert(ctx, session("a", testAppID(1), testNow.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
		if err := s.SessionInsert(ctx, session("a", testAppID(1), testNow.Add(time.Hour))); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate hash: err=%v, want ErrConflict", err)
		}
		if err := s.SessionInsert(ctx, session("b", testAppID(9), testNow.Add(time.Hour))); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown app: err=%v, want ErrNotFound", err)
		}
		if err := s.SessionInsert(ctx, session("c", testAppID(1), testNow)); err == nil {
			t.Fatal("ExpiresAt == Now: want a validation error")
		}
		if _, err := s.SessionGet(ctx, hash("c")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("invalid insert stored a row: err=%v", err)
		}
	})
	t.Run("DeleteExpired", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := newDB(t)(t)
		insertApp(ctx, t, s, testAppID(1))
		for _, p := range []*store.SessionInsertParams{
			session("old", testAppID(1), testNow.Add(time.Minute)),
			session("edge", testAppID(1), testNow.Add(time.Hour)),
			session("new", testAppID(1), testNow.Add(2*time.Hour)),
		} {
			if err := s.SessionInsert(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		// Expiry is half-open: a session ending exactly at now is gone.
		n, err := s.SessionDeleteExpired(ctx, testNow.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Fatalf("SessionDeleteExpired=%d, want 2", n)
		}
		for tok, want := range map[string]error{"old": store.ErrNotFound, "edge": store.ErrNotFound, "new": nil} {
			if _, err := s.SessionGet(ctx, hash(tok)); !errors.Is(err, want) {
				t.Errorf("SessionGet(%s): err=%v, want %v", tok, err, want)
			}
		}
	})
	t.Run("AppDeleteCascades", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := newDB(t)(t)
		insertApp(ctx, t, s, testAppID(1))
		if err := s.SessionInsert(ctx, session("a", testAppID(1), testNow.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
		if err := s.AppCallbackSet(ctx, &store.AppCallback{AppID: testAppID(1), TokenSealed: []byte("t"), Mode: "plain", UpdatedAt: testNow}); err != nil {
			t.Fatal(err)
		}
		if err := s.AppDelete(ctx, testAppID(1)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionGet(ctx, hash("a")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session after AppDelete: err=%v, want ErrNotFound", err)
		}
		if _, err := s.AppCallbackGet(ctx, testAppID(1)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("callback after AppDelete: err=%v, want ErrNotFound", err)
		}
	})
	t.Run("AppCallback", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := newDB(t)(t)
		insertApp(ctx, t, s, testAppID(1))
		if _, err := s.AppCallbackGet(ctx, testAppID(1)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("AppCallbackGet before set: err=%v, want ErrNotFound", err)
		}
		if err := s.AppCallbackSet(ctx, &store.AppCallback{AppID: testAppID(9), TokenSealed: []byte("t"), Mode: "plain", UpdatedAt: testNow}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("AppCallbackSet unknown app: err=%v, want ErrNotFound", err)
		}
		c := &store.AppCallback{AppID: testAppID(1), TokenSealed: []byte{0, 1}, Mode: "plain", UpdatedAt: testNow}
		if err := s.AppCallbackSet(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.AppCallbackGet(ctx, testAppID(1))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.TokenSealed, c.TokenSealed) || got.AESKeySealed != nil || got.Mode != "plain" {
			t.Fatalf("AppCallbackGet=%+v", got)
		}
		checkTime(t, "UpdatedAt", got.UpdatedAt, testNow)
		// Set again replaces every field.
		c2 := &store.AppCallback{AppID: testAppID(1), TokenSealed: []byte{2}, AESKeySealed: []byte{3, 4}, Mode: "safe", UpdatedAt: testNow.Add(time.Hour)}
		if err := s.AppCallbackSet(ctx, c2); err != nil {
			t.Fatal(err)
		}
		got, err = s.AppCallbackGet(ctx, testAppID(1))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.TokenSealed, c2.TokenSealed) || !bytes.Equal(got.AESKeySealed, c2.AESKeySealed) || got.Mode != "safe" {
			t.Fatalf("AppCallbackGet after replace=%+v", got)
		}
		checkTime(t, "UpdatedAt", got.UpdatedAt, testNow.Add(time.Hour))
		if err := s.AppCallbackDelete(ctx, testAppID(1)); err != nil {
			t.Fatal(err)
		}
		if err := s.AppCallbackDelete(ctx, testAppID(1)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("AppCallbackDelete twice: err=%v, want ErrNotFound", err)
		}
	})
}
