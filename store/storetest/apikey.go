package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/store"
)

// exerciseAPIKey checks the API key methods.
func exerciseAPIKey(t *testing.T, newDB NewDBFunc) {
	t.Run("InsertGetListDelete", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := newDB(t)(t)
		now := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)
		k := &store.APIKey{ID: "k1", Name: "orders", SecretHash: []byte{1, 2, 3}, Apps: []string{"wx1", "wx2"}, CreatedAt: now}
		if err := s.APIKeyInsert(ctx, k); err != nil {
			t.Fatal(err)
		}
		if err := s.APIKeyInsert(ctx, k); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate insert: err=%v, want ErrConflict", err)
		}
		got, err := s.APIKeyGet(ctx, "k1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "orders" || !bytes.Equal(got.SecretHash, k.SecretHash) || !slices.Equal(got.Apps, k.Apps) ||
			!got.CreatedAt.Equal(now.Truncate(store.TimePrecision)) {
			t.Fatalf("got %+v", got)
		}
		if err := s.APIKeyInsert(ctx, &store.APIKey{ID: "k2", Name: "all", SecretHash: []byte{9}, Apps: []string{"*"}, CreatedAt: now.Add(time.Second)}); err != nil {
			t.Fatal(err)
		}
		list, err := s.APIKeyList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != "k1" || list[1].ID != "k2" {
			t.Fatalf("list=%+v", list)
		}
		if err := s.APIKeyDelete(ctx, "k1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.APIKeyGet(ctx, "k1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get deleted: err=%v", err)
		}
		if err := s.APIKeyDelete(ctx, "k1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete twice: err=%v", err)
		}
	})
}
