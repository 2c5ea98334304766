package wxnotify

import (
	"context"
	"time"
)

// MessageKind selects WeChat's send endpoint and the credit it needs.
type MessageKind string

const (
	// MessageSubscribe is a subscribe message (POST
	// /cgi-bin/message/subscribe/send), spending one acceptance of its
	// template. The default.
	MessageSubscribe MessageKind = "subscribe"
	// MessageTemplate is a legacy template message (POST
	// /cgi-bin/message/wxopen/template/send), spending a form_id or
	// prepay_id of the user.
	MessageTemplate MessageKind = "template"
)

// MessageState is where a message is on its one-way path. Terminal states
// never change again, except by an operator's retry of a failed, no_credit
// or expired message (Retryable), which queues it again.
type MessageState string

const (
	// MessageQueued: accepted and stored; due at SendAt. Moves to sending
	// when an instance claims it, to cancelled or expired.
	MessageQueued MessageState = "queued"
	// MessageWaitingCredit: the user had no credit and the caller asked to
	// wait for one (WaitForCredit); queued again when the user grants one,
	// expired at ExpiresAt.
	MessageWaitingCredit MessageState = "waiting_credit"
	// MessageSending: claimed by an instance, whose lease bounds how long it
	// may take. An instance that dies leaves it to be taken over (and, if
	// WeChat may have been called, resolved as ambiguous).
	MessageSending MessageState = "sending"

	MessageDelivered MessageState = "delivered" // terminal: WeChat accepted it; MsgID is set
	MessageFailed    MessageState = "failed"    // terminal: a permanent error, or retries exhausted
	MessageNoCredit  MessageState = "no_credit" // terminal: the user has no credit for it
	MessageExpired   MessageState = "expired"   // terminal: its TTL passed before delivery
	MessageCancelled MessageState = "cancelled" // terminal: cancelled by the caller before sending
	// MessageAmbiguous: an instance died after calling WeChat and before
	// recording the answer, and no subscribe_msg_sent_event has settled
	// it. It may or may not have reached the user; it is never sent again,
	// so it is never sent twice. It is final except for one move: a sent
	// event that arrives later settles it as delivered or failed.
	MessageAmbiguous MessageState = "ambiguous"
)

// MessageStates returns every state: the non-terminal ones (the queue)
// first, then the terminal ones.
func MessageStates() []MessageState {
	return []MessageState{MessageQueued, MessageWaitingCredit, MessageSending,
		MessageDelivered, MessageFailed, MessageNoCredit, MessageExpired, MessageCancelled, MessageAmbiguous}
}

// Valid reports whether s is one of MessageStates.
func (s MessageState) Valid() bool {
	return s.Terminal() || s == MessageQueued || s == MessageWaitingCredit || s == MessageSending
}

// Terminal reports whether s is a final state.
func (s MessageState) Terminal() bool {
	switch s {
	case MessageDelivered, MessageFailed, MessageNoCredit, MessageExpired, MessageCancelled, MessageAmbiguous:
		return true
	}
	return false
}

// Limits of a message.
const (
	MaxPageLen           = 1024
	MaxDataKeys          = 20
	MaxDataValueLen      = 1024 // WeChat's own limits are shorter; this bounds storage
	MaxIdempotencyKeyLen = 255
	DefaultMessageTTL    = 24 * time.Hour
	MaxMessageTTL        = 30 * 24 * time.Hour
)

// Message is one notification to one user.
type Message struct {
	ID         int64       `json:"id"`
	AppID      string      `json:"appid"`
	OpenID     string      `json:"openid"`
	Kind       MessageKind `json:"kind"`
	TemplateID string      `json:"template_id"`
	// Data maps each keyword of the template ("thing1") to its value.
	Data             map[string]string `json:"data"`
	Page             string            `json:"page,omitempty"`
	MiniprogramState string            `json:"miniprogram_state,omitempty"` // developer, trial, formal
	Lang             string            `json:"lang,omitempty"`              // zh_CN, en_US, zh_HK, zh_TW
	EmphasisKeyword  string            `json:"emphasis_keyword,omitempty"`  // legacy template messages only
	// SendAt delays the message; zero means now.
	SendAt time.Time `json:"send_at,omitzero"`
	// ExpiresAt gives up on the message (expired) if it is not delivered by
	// then. Set from the TTL at accept time.
	ExpiresAt     time.Time `json:"expires_at"`
	WaitForCredit bool      `json:"wait_for_credit,omitempty"`
	// IdempotencyKey makes a retried request return the first message.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	BroadcastID    int64  `json:"broadcast_id,omitempty"`
	ScheduleID     int64  `json:"schedule_id,omitempty"`

	State MessageState `json:"state"`
	// Attempts counts the calls to WeChat that count toward
	// delivery.max_attempts; a 45011 (the app's per-minute limit) does not,
	// so the message's attempt list can be longer.
	Attempts  int       `json:"attempts"`
	MsgID     string    `json:"msgid,omitempty"` // WeChat's id of the delivered message
	LastError string    `json:"last_error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Attempt is one call to WeChat for a message.
type Attempt struct {
	MessageID int64     `json:"message_id"`
	N         int       `json:"n"`
	At        time.Time `json:"at"`
	ErrCode   int       `json:"errcode"` // 0 when WeChat accepted; -2 for a network error
	ErrMsg    string    `json:"errmsg,omitempty"`
	Class     string    `json:"class,omitempty"` // retry, throttle, token, credit, quota, permanent, ambiguous (the answer was lost after the request was sent)
	LatencyMS float64   `json:"latency_ms"`
}

// MessageFilter selects messages to list. Nil fields are not filtered on.
type MessageFilter struct {
	AppID       *string
	OpenID      *string
	State       *MessageState
	BroadcastID *int64
	AfterID     int64 // for paging: only ids greater than this
	Limit       int   // default 100, at most 1000
}

// MessageService accepts messages and reports on them.
type MessageService interface {
	// Enqueue validates m (fields, the app, the template's keyword rules),
	// stores it durably, and returns once it is stored; delivery happens
	// later. With an IdempotencyKey already used for the app it returns the
	// first message and created=false. Returns EINVALID naming the field,
	// ENOTFOUND for an unknown app, EFORBIDDEN for an app the caller may not
	// act for.
	Enqueue(ctx context.Context, m *Message) (created bool, err error)
	// FindMessageByID returns a message with its attempts. Returns
	// ENOTFOUND when there is none or the caller may not see its app.
	FindMessageByID(ctx context.Context, id int64) (*Message, []*Attempt, error)
	// FindMessages lists messages, newest first within the filter.
	FindMessages(ctx context.Context, filter MessageFilter) ([]*Message, error)
	// CancelMessage cancels a message that is not yet being sent. Returns
	// ECONFLICT when it is sending or already terminal.
	CancelMessage(ctx context.Context, id int64) (*Message, error)
	// RetryMessage sends a failed, no_credit or expired message again: it
	// is queued, due now, with its time to live counted again from now and
	// a fresh credit taken at its next claim; its attempts so far stay in
	// its history and its attempt count starts again. Returns ECONFLICT for
	// any other state, ENOTFOUND as FindMessageByID.
	RetryMessage(ctx context.Context, id int64) (*Message, error)
}

// Retryable reports whether an operator may send a message in state s again
// (MessageService.RetryMessage): it ended without reaching WeChat's user
// for a reason a new attempt can change. Delivered, cancelled and
// ambiguous messages are never sent again (ambiguous ones may have reached
// the user).
func (s MessageState) Retryable() bool {
	return s == MessageFailed || s == MessageNoCredit || s == MessageExpired
}
