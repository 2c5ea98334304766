package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/wxnotify/wxnotify/store"
)

// exerciseDailySend checks the daily send counters.
func exerciseDailySend(t *testing.T, newDB NewDBFunc) {
	t.Run("AddList", func(t *testing.T) {
		t.Parallel()
		ctx, s := t.Context(), newDB(t)(t)
		app, app2 := testAppID(1), testAppID(2)
		insertApp(ctx, t, s, app)
		insertApp(ctx, t, s, app2)
		const day, next = "2026-12-06", "2026-12-07"
		for range 2 {
			if err := s.DailySendAdd(ctx, []*store.DailySend{
				{AppID: app2, Day: day, Kind: "subscribe", Holder: "i1", Sent: 3},
				{AppID: app, Day: day, Kind: "subscribe", Holder: "i1", Sent: 2},
				{AppID: app, Day: day, Kind: "subscribe", Holder: "i2", Sent: 3}, // another instance's row
				{AppID: app, Day: day, Kind: "template", Holder: "i1", Sent: 1},
				{AppID: app, Day: next, Kind: "subscribe", Holder: "i1", Sent: 7},
			}); err != nil {
				t.Fatal(err)
			}
		}
		list, err := s.DailySendList(ctx, day)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range list {
			got = append(got, fmt.Sprintf("%s/%s/%s=%d", d.AppID, d.Day, d.Kind, d.Sent))
		}
		want := fmt.Sprint([]string{app + "/" + day + "/subscribe=10", app + "/" + day + "/template=2", app2 + "/" + day + "/subscribe=6"})
		if fmt.Sprint(got) != want {
			t.Fatalf("DailySendList=%v, want %v", got, want)
		}
		if list, err := s.DailySendList(ctx, "2026-12-05"); err != nil || len(list) != 0 {
			t.Fatalf("another day: %v, %v; want none", list, err)
		}
		if err := s.DailySendAdd(ctx, []*store.DailySend{{AppID: testAppID(9), Day: day, Kind: "subscribe", Sent: 1}}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown app: %v, want ErrNotFound", err)
		}
		if err := s.DailySendAdd(ctx, []*store.DailySend{{AppID: app, Day: "6 Dec", Kind: "subscribe", Sent: 1}}); err == nil {
			t.Fatal("a malformed day was accepted")
		}
	})
}
