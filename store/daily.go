package store

import "fmt"

// DailySend counts the sends of one app and kind delivered on one quota
// day, the Beijing-time date WeChat counts its daily send limits in.
type DailySend struct {
	AppID string
	Day   string // YYYY-MM-DD
	Kind  string // "subscribe" or "template"
	// Holder is the instance that counted (its own rows, so instances
	// never wait on one another's counter); DailySendList sums over it.
	Holder string
	Sent   int64
}

// Validate reports a malformed counter increment.
func (d *DailySend) Validate() error {
	switch {
	case d.AppID == "" || len(d.Day) != len("2006-01-02"):
		return fmt.Errorf("store: daily send: AppID and Day (YYYY-MM-DD) required")
	case d.Kind != "subscribe" && d.Kind != "template":
		return fmt.Errorf("store: daily send: Kind %q not subscribe or template", d.Kind)
	case d.Sent <= 0:
		return fmt.Errorf("store: daily send: Sent must be positive")
	}
	return nil
}
