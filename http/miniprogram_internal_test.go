package http

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"
)

func TestLimiterSetBounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ls := newLimiterSet(3)
	key := func(i int) [32]byte { return sha256.Sum256(fmt.Appendf(nil, "wxs_%d", i)) }
	if ok, _ := ls.allow(key(0), now, 1, 1); !ok {
		t.Fatal("first request refused")
	}
	if ok, retry := ls.allow(key(0), now, 1, 1); ok || retry != time.Second {
		t.Fatalf("second request: ok=%v retry=%v, want refused for 1s", ok, retry)
	}
	for i := 1; i <= 10; i++ {
		ls.allow(key(i), now, 1, 1)
	}
	if n := ls.len(); n != 3 {
		t.Fatalf("len=%d, want the bound 3", n)
	}
	// key(0) was evicted as least recently used and starts afresh.
	if ok, _ := ls.allow(key(0), now, 1, 1); !ok {
		t.Fatal("evicted key refused")
	}
}

func TestNonceCache(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := newNonceCache(3, 10*time.Minute)
	if !c.add("a", now) || c.add("a", now.Add(time.Minute)) {
		t.Fatal("a replay within the TTL was accepted")
	}
	if !c.add("a", now.Add(10*time.Minute)) {
		t.Fatal("a nonce older than the TTL was refused")
	}
	c.remove("a")
	if !c.add("a", now.Add(11*time.Minute)) {
		t.Fatal("a removed nonce was refused")
	}
	for _, k := range []string{"b", "c", "d"} {
		c.add(k, now.Add(12*time.Minute))
	}
	if n := c.ll.Len(); n != 3 || len(c.m) != 3 {
		t.Fatalf("list %d, map %d; want the bound 3", n, len(c.m))
	}
	if !c.add("a", now.Add(12*time.Minute)) {
		t.Fatal("the oldest nonce was not the one forgotten")
	}
}
