package wxnotify_test

import (
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
)

func TestQuotaDay(t *testing.T) {
	t.Parallel()
	// 15:59:59 UTC is 23:59:59 in Beijing; a second later the day turns.
	before := time.Date(2026, 12, 6, 15, 59, 59, 0, time.UTC)
	if got := wxnotify.QuotaDay(before); got != "2026-12-06" {
		t.Fatalf("QuotaDay(%v)=%s", before, got)
	}
	if got := wxnotify.QuotaDay(before.Add(time.Second)); got != "2026-12-07" {
		t.Fatalf("QuotaDay(%v)=%s", before.Add(time.Second), got)
	}
	if got, want := wxnotify.NextQuotaReset(before), before.Add(time.Second); !got.Equal(want) {
		t.Fatalf("NextQuotaReset=%v, want %v", got, want)
	}
}
