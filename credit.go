package wxnotify

import (
	"context"
	"strings"
	"time"
)

// CreditKind is the kind of permission a user gave to be sent a message.
type CreditKind string

const (
	// CreditFormID is a legacy form_id, reported by a page when the user
	// submitted a form: one message, only to that user, within 7 days.
	CreditFormID CreditKind = "form_id"
	// CreditPrepayID is a legacy prepay_id from a payment: 3 messages to
	// that user within 7 days.
	CreditPrepayID CreditKind = "prepay_id"
	// CreditSubscribe is one acceptance of a one-time subscribe template in
	// wx.requestSubscribeMessage: one message with that template.
	CreditSubscribe CreditKind = "subscribe"
	// CreditLongTerm is a long-term subscription to a template: messages
	// until the user cancels it (subscribe_msg_change_event).
	CreditLongTerm CreditKind = "long_term"
)

// CreditKindsFor is which credits a message of kind spends, in order of
// preference, and whether the credit must be for the message's template:
// a subscribe message spends a one-time acceptance of its template before
// a long-term subscription to it (which lasts); a legacy template message
// spends any form_id of the user before a prepay_id (whose 3 uses are
// worth more). This is the one place the rule is written.
func CreditKindsFor(kind MessageKind) (kinds []CreditKind, ofTemplate bool) {
	if kind == MessageSubscribe {
		return []CreditKind{CreditSubscribe, CreditLongTerm}, true
	}
	return []CreditKind{CreditFormID, CreditPrepayID}, false
}

// CreditKindNames returns kinds as the strings the store keeps.
func CreditKindNames(kinds []CreditKind) []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = string(k)
	}
	return out
}

// Legacy credits' lifetimes and uses, as WeChat grants them.
const (
	FormIDLifetime = 7 * 24 * time.Hour
	FormIDUses     = 1
	PrepayIDUses   = 3
	// DefaultCreditSafetyMargin is cut from a legacy credit's lifetime, so
	// a message queued near the end does not reach WeChat after it (the
	// original how-to used 6 of the 7 days).
	DefaultCreditSafetyMargin = 24 * time.Hour
	// MockFormID is what WeChat DevTools reports instead of a real form_id.
	// It is never stored.
	MockFormID = "the formId is a mock one"
	// MaxFormIDsPerReport bounds one batch from a page.
	MaxFormIDsPerReport = 100
)

// Credit is one entry of the ledger: a user's permission to be sent one or
// more messages by one app.
type Credit struct {
	ID     int64      `json:"id"`
	AppID  string     `json:"appid"`
	OpenID string     `json:"openid"`
	Kind   CreditKind `json:"kind"`
	// TemplateID is the subscribe template the credit is for (subscribe and
	// long_term); empty for legacy credits, which fit any legacy template.
	TemplateID string `json:"template_id,omitempty"`
	// Value is the form_id or prepay_id to send with; empty for subscribe
	// credits. It is never logged or returned whole.
	Value      Secret    `json:"-"`
	UsesLeft   int       `json:"uses_left"`
	ObtainedAt time.Time `json:"obtained_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"` // zero: no expiry (subscribe, long_term)
	Source     string    `json:"source"`              // "miniprogram", "event", "api"
	// DeadReason is set when WeChat rejected the credit (41028, 41029,
	// 43101) or the user cancelled the subscription; a dead credit is never
	// spent again.
	DeadReason string `json:"dead_reason,omitempty"`
}

// SubscribeChoice is a user's answer for one template in
// wx.requestSubscribeMessage.
type SubscribeChoice string

const (
	SubscribeAccept SubscribeChoice = "accept"
	SubscribeReject SubscribeChoice = "reject"
	SubscribeBan    SubscribeChoice = "ban"    // the user turned subscriptions off entirely
	SubscribeFilter SubscribeChoice = "filter" // WeChat filtered the template (its title was reported)
)

// ParseSubscribeChoice reads one answer of wx.requestSubscribeMessage.
// WeChat's clients answer "accept" with variants for the reminder the user
// chose — "acceptWithAudio" (documented since base library 2.10.0),
// "acceptWithAlert", "acceptWithForcePush" (seen in the community, not in
// the reference): every "accept…" is an acceptance, so none is lost.
func ParseSubscribeChoice(v string) (SubscribeChoice, bool) {
	switch c := SubscribeChoice(v); {
	case c == SubscribeAccept || strings.HasPrefix(v, "acceptWith"):
		return SubscribeAccept, true
	case c == SubscribeReject, c == SubscribeBan, c == SubscribeFilter:
		return c, true
	}
	return "", false
}

// CreditStock counts usable uses, for operators and for the page.
type CreditStock struct {
	AppID      string     `json:"appid"`
	OpenID     string     `json:"openid,omitempty"`
	Kind       CreditKind `json:"kind"`
	TemplateID string     `json:"template_id,omitempty"`
	Credits    int64      `json:"credits"` // usable credits
	Uses       int64      `json:"uses"`    // usable uses (a prepay_id has up to 3)
	// Rejections counts reject/ban/filter answers recorded for the template.
	Rejections int64 `json:"rejections,omitempty"`
}

// CreditFilter selects credits for the operator queries. Nil fields are not
// filtered on.
type CreditFilter struct {
	AppID        *string
	OpenID       *string
	TemplateID   *string
	Kind         *CreditKind
	ExpiringWith *time.Duration // only usable credits that expire within this
}

// CreditService is the ledger of send credits.
//
// Rules: a credit is for one (app, openid[, template]) and is never spent for
// anyone else; spending takes the oldest usable credit of the right kind and
// decrements it atomically, so two instances never spend the same use; a
// legacy credit is usable until ExpiresAt minus the safety margin; expired
// credits are purged by a built-in job; the same form_id reported twice is
// stored once, and the DevTools mock form_id never.
type CreditService interface {
	// AddFormIDs records form_ids (or prepay_ids, with kind CreditPrepayID)
	// that a page reported for the user, and returns how many were new.
	// The mock form_id and duplicates are dropped silently; an empty or
	// over-long value, or more than MaxFormIDsPerReport, is EINVALID and
	// nothing is stored.
	AddFormIDs(ctx context.Context, appID, openID string, kind CreditKind, values []string, source string) (added int, err error)
	// RecordSubscribeResult records the result object of
	// wx.requestSubscribeMessage: each accepted template becomes one
	// subscribe credit, other answers are counted for statistics.
	RecordSubscribeResult(ctx context.Context, appID, openID string, result map[string]SubscribeChoice, source string) error
	// SpendCredit takes one use of the oldest usable credit for the user:
	// of a legacy kind (form_id first, then prepay_id) when templateID is
	// empty, else for that subscribe template (one-time before long-term).
	// Returns ENOTFOUND when the user has none.
	SpendCredit(ctx context.Context, appID, openID, templateID string) (*Credit, error)
	// RefundCredit gives back a use taken by SpendCredit when the message
	// was certainly not delivered (the request never reached WeChat).
	RefundCredit(ctx context.Context, id int64) error
	// KillCredit marks a credit dead because WeChat rejected it (reason
	// names the errcode) or the user cancelled; it is never spent again.
	KillCredit(ctx context.Context, id int64, reason string) error
	// PurgeCredits deletes credits that are expired, used up or dead, and
	// returns how many.
	PurgeCredits(ctx context.Context) (int64, error)
	// CreditStocks counts usable credits per (app, kind, template), or per
	// user when the filter names one.
	CreditStocks(ctx context.Context, filter CreditFilter) ([]*CreditStock, error)
}
