package wxnotify

import "time"

// WeChat's daily limits — the token quotas and the send limits per app —
// reset at midnight China Standard Time (UTC+8, no daylight saving).
var quotaZone = time.FixedZone("CST", 8*3600)

// QuotaDay is the quota day of t, as YYYY-MM-DD in China Standard Time.
func QuotaDay(t time.Time) string { return t.In(quotaZone).Format(time.DateOnly) }

// NextQuotaReset is the first midnight China Standard Time after t.
func NextQuotaReset(t time.Time) time.Time {
	c := t.In(quotaZone)
	return time.Date(c.Year(), c.Month(), c.Day()+1, 0, 0, 0, 0, quotaZone)
}

// Daily send limits per app that WeChat documents: subscribeMessage.send
// 10 million a day (30 million for apps with WeChat Pay: configure it), the
// legacy template send 1 million. wxnotify counts delivered sends against
// them and pauses the app at the limit until the quota day turns.
const (
	DefaultDailySubscribeLimit = 10_000_000
	DefaultDailyTemplateLimit  = 1_000_000
)
