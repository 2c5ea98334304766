package main

import (
	"bytes"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTable: columns line up in terminal cells, a Chinese character
// taking two.
func TestTable(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	tw := newTable(&b)
	tw.Write([]byte("ID\tTITLE\tSTATE\n"))
	tw.Write([]byte("1\t订单发货通知\tlive\n"))
	tw.Write([]byte("22\tshipped\tdeleted\n"))
	tw.Write([]byte("(3 titles)\n"))
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"ID  TITLE         STATE\n" +
		"1   订单发货通知  live\n" +
		"22  shipped       deleted\n" +
		"(3 titles)\n"
	if got := b.String(); got != want {
		t.Fatalf("table:\n%s\nwant:\n%s", got, want)
	}
}

// TestOnSignals: the first signal cancels, the second exits at once.
func TestOnSignals(t *testing.T) {
	t.Parallel()
	sigs := make(chan os.Signal, 2)
	cancelled := make(chan struct{})
	exited := make(chan int, 1)
	var stderr bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		onSignals(sigs, func() { close(cancelled) }, &stderr, func(code int) { exited <- code })
	}()
	sigs <- syscall.SIGTERM
	<-cancelled
	select {
	case code := <-exited:
		t.Fatalf("exited %d on the first signal", code)
	default:
	}
	sigs <- os.Interrupt
	if code := <-exited; code != exitInterrupted {
		t.Fatalf("second signal: exit %d, want %d", code, exitInterrupted)
	}
	<-done
	if !strings.Contains(stderr.String(), "again") {
		t.Fatalf("stderr %q", stderr.String())
	}
}

// TestLogger_Durations: durations are logged with their unit in both
// formats, never as nanoseconds.
func TestLogger_Durations(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "text"} {
		var b bytes.Buffer
		newLogger(&b, "info", format).Info("retry", "retry_in", 1500*time.Millisecond, slog.Group("g", "d", time.Minute))
		if s := b.String(); !strings.Contains(s, "1.5s") || !strings.Contains(s, "1m0s") || strings.Contains(s, "1500000000") {
			t.Errorf("%s log: %s", format, s)
		}
	}
}

// TestExitCodes_Documented: README.md's exit code table is exitCodes.
func TestExitCodes_Documented(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| (\\d+) \\| `([a-z_]+)` \\|")
	documented := map[int]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		n, _ := strconv.Atoi(m[1])
		documented[n] = m[2]
	}
	for _, c := range exitCodes {
		if documented[c.code] != c.name {
			t.Errorf("README.md's exit code table has no row | %d | `%s` |", c.code, c.name)
		}
		delete(documented, c.code)
	}
	for n := range documented {
		t.Errorf("README.md documents exit code %d, which exitCodes does not have", n)
	}
}

func TestPlural(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0 messages", 1: "1 message", 2: "2 messages"} {
		if got := plural(n, "message", "messages"); got != want {
			t.Errorf("plural(%d)=%q, want %q", n, got, want)
		}
	}
	if got := rate(0, time.Second, "message", "messages"); got != "" {
		t.Errorf("rate before the first: %q", got)
	}
	if got := rate(1, time.Minute, "message", "messages"); got != "1 message/min" {
		t.Errorf("rate(1/min)=%q", got)
	}
	if got := rate(30, 10*time.Second, "message", "messages"); got != "3 messages/s" {
		t.Errorf("rate(3/s)=%q", got)
	}
}
