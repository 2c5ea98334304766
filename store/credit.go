package store

import (
	"fmt"
	"time"

	"github.com/wxnotify/wxnotify"
)

// Credit is a credit row: one entry of the ledger of send permissions (see
// wxnotify.Credit for the meaning of each kind).
//
// A credit is usable while UsesLeft > 0, DeadReason is empty, and ExpiresAt
// is zero or after the cutoff the caller passes. Kind "long_term" is never
// decremented by CreditSpend: it lasts until killed.
type Credit struct {
	ID         int64
	AppID      string
	OpenID     string
	Kind       string
	TemplateID string          // "" for legacy kinds (form_id, prepay_id)
	Value      wxnotify.Secret // the form_id or prepay_id; "" for subscribe kinds
	Uses       int             // uses granted
	UsesLeft   int
	ObtainedAt time.Time
	ExpiresAt  time.Time // WeChat's real expiry; zero: none
	SpentAt    time.Time // last CreditSpend; zero: never spent
	Source     string
	DeadReason string // "" while alive
}

// UseNumber is which use of the credit the last CreditSpend took: 1 for the
// first, up to Uses. Together with ID it names one use uniquely.
func (c *Credit) UseNumber() int { return c.Uses - c.UsesLeft }

// CreditInsertParams are the fields of a new credit.
type CreditInsertParams struct {
	AppID      string
	OpenID     string
	Kind       string
	TemplateID string
	Value      wxnotify.Secret // unique per (AppID, Kind) when not empty
	Uses       int             // > 0
	ObtainedAt time.Time
	ExpiresAt  time.Time // zero: no expiry
	Source     string
}

// Validate reports a malformed credit. Drivers call it for every credit of a
// batch before touching the database.
func (p *CreditInsertParams) Validate() error {
	switch {
	case p.AppID == "":
		return fmt.Errorf("store: credit insert: AppID required")
	case p.OpenID == "":
		return fmt.Errorf("store: credit insert: OpenID required")
	case p.Kind == "":
		return fmt.Errorf("store: credit insert: Kind required")
	case p.Uses <= 0:
		return fmt.Errorf("store: credit insert: Uses %d not positive", p.Uses)
	case p.ObtainedAt.IsZero():
		return fmt.Errorf("store: credit insert: ObtainedAt required")
	}
	return nil
}

// CreditSpendParams ask for one use of a user's oldest usable credit.
type CreditSpendParams struct {
	AppID      string
	OpenID     string
	TemplateID string   // "" for legacy kinds
	Kinds      []string // in order of preference; at least one
	// Cutoff: a credit whose ExpiresAt is at or before it is not spent. The
	// store keeps WeChat's real expiry; the caller adds its safety margin
	// here (Now + margin). Credits without expiry are always usable.
	Cutoff time.Time
	Now    time.Time // recorded as SpentAt
}

// Validate reports a malformed request.
func (p *CreditSpendParams) Validate() error {
	switch {
	case p.AppID == "":
		return fmt.Errorf("store: credit spend: AppID required")
	case p.OpenID == "":
		return fmt.Errorf("store: credit spend: OpenID required")
	case len(p.Kinds) == 0:
		return fmt.Errorf("store: credit spend: Kinds required")
	case p.Cutoff.IsZero() || p.Now.IsZero():
		return fmt.Errorf("store: credit spend: Cutoff and Now required")
	}
	return nil
}

// CreditKillTemplateParams kill every credit of a user for one template.
type CreditKillTemplateParams struct {
	AppID      string
	OpenID     string
	TemplateID string
	Reason     string
}

// Validate reports a malformed request: every field but OpenID (empty: all
// the app's users) is required, so an empty template never matches (and
// kills) legacy credits.
func (p *CreditKillTemplateParams) Validate() error {
	if p.AppID == "" || p.TemplateID == "" || p.Reason == "" {
		return fmt.Errorf("store: credit kill template: AppID, TemplateID and Reason required")
	}
	return nil
}

// CreditPurgeParams select the credits CreditPurge deletes.
type CreditPurgeParams struct {
	// Now: credits with ExpiresAt <= Now are deleted (WeChat's expiry, not
	// the safety margin: they cannot be sent with any more).
	Now time.Time
	// SpentBefore: used-up credits are deleted only if their last use was
	// before it, so a refund shortly after the last use still finds its row.
	SpentBefore time.Time
}

// CreditStocksParams select and group usable credits. Empty strings and zero
// times do not filter.
type CreditStocksParams struct {
	AppID      string
	OpenID     string // set: only this user, grouped per user too
	TemplateID string
	Kind       string
	Cutoff     time.Time // as in CreditSpendParams: required
	// ExpiringBefore: only credits with an expiry at or before it.
	ExpiringBefore time.Time
}

// CreditStock is one group of CreditStocks.
type CreditStock struct {
	AppID      string
	OpenID     string // "" unless CreditStocksParams.OpenID was set
	Kind       string
	TemplateID string
	Credits    int64
	Uses       int64
	Rejections int64 // reject/ban/filter answers recorded for the template
}

// SubscribeChoiceAddParams count answers of wx.requestSubscribeMessage.
type SubscribeChoiceAddParams struct {
	AppID      string
	TemplateID string
	Choice     string
	Count      int64 // > 0
	Now        time.Time
}

// Event is a pushed event row (see wxnotify.Event).
type Event struct {
	ID         int64
	AppID      string
	Type       string
	OpenID     string
	TemplateID string
	Status     string
	PopupScene string
	MsgID      string
	ErrorCode  int
	CreateTime time.Time // WeChat's CreateTime
	ReceivedAt time.Time
}
