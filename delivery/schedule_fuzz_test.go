package delivery_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/delivery"
)

// FuzzParseSchedule: a cron spec and time zone from a request never panic
// the parser or the next-occurrence search; refusals are EINVALID naming
// "cron" or "timezone"; an accepted spec's next occurrence is after now.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range [][2]string{
		{"0 9 * * *", "Asia/Shanghai"}, {"@daily", ""}, {"@every 1h", "UTC"}, {"@every 1s", ""},
		{"*/5 * * * 1-5", "America/New_York"}, {"0 0 30 2 *", ""}, {"TZ=UTC 0 9 * * *", ""},
		{"0 9 * * * *", ""}, {"60 * * * *", ""}, {"0 9 * * *", "Local"}, {"0 9 * * *", "Mars/Base"},
		{"@every 2562047h", ""}, {"0-59/0 * * * *", ""}, {"", ""},
		// Time zones that are not names (NUL, newline, bytes that are not
		// UTF-8, a path, a very long one); specs with too many fields, no
		// unit, a bare descriptor, long numbers and bytes that are not UTF-8.
		{"0", "\x00\x00\x00\x00"}, {"0", "\n"}, {"0", "\xf6\xf6\xf6\xf6"}, {"0", "../../etc/passwd"},
		{"0", "\"\""}, {"0 9 * * *", strings.Repeat("0", 128)}, {"0 0 0 0 0 0 0 0", ""}, {"@every 1", ""}, {"@", ""},
		{"0000000000000000 * * * *", ""}, {"0 0 1 A 0", ""}, {"\xb20 * * * *", ""}, {"忯", ""},
	} {
		f.Add(s[0], s[1])
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec, tz string) {
		if len(spec) > wxnotify.MaxScheduleCronLen {
			return // the request is refused before parsing
		}
		sc := &wxnotify.Schedule{Timezone: tz}
		loc, err := sc.Location()
		if err != nil {
			if wxnotify.ErrorCode(err) != wxnotify.EINVALID || wxnotify.ErrorField(err) != "timezone" {
				t.Fatalf("Location(%q): %v", tz, err)
			}
			return
		}
		sched, err := delivery.ParseSchedule(spec, loc)
		if err != nil {
			if wxnotify.ErrorCode(err) != wxnotify.EINVALID || wxnotify.ErrorField(err) != "cron" {
				t.Fatalf("ParseSchedule(%q): %v", spec, err)
			}
			return
		}
		if next := sched.Next(now); !next.IsZero() && !next.After(now) {
			t.Fatalf("ParseSchedule(%q, %q).Next(%v) = %v, not after", spec, tz, now, next)
		}
	})
}
