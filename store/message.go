package store

import (
	"context"
	"fmt"
	"time"
)

// MessageStore is the delivery queue: the message table is the queue
// (docs/decisions.md). It joins Executor once both drivers implement it.
//
// States and their moves (see wxnotify.MessageState):
//
//	queued ──claim──▶ sending ──finish──▶ delivered | failed | no_credit
//	  ▲   ╲                 ╲──finish(retry)──▶ queued (run_at later)
//	  │    ╲──claim, no credit, wait──▶ waiting_credit ──credit granted──▶ queued
//	  │     ╲─claim, no credit──▶ no_credit
//	  ╰── cancel ──▶ cancelled      queued/waiting past expires_at ──▶ expired
//	sending with an expired lease ──recover──▶ ambiguous
type MessageStore interface {
	// MessageInsertMany stores accepted messages in ONE transaction (the
	// group commit of docs/decisions.md), all or none. A message whose
	// (AppID, IdempotencyKey) exists already — in the table or earlier in
	// the batch — is not stored: its result carries the existing id and
	// Created=false. Results are in the order of ps. Messages without an
	// IdempotencyKey are always stored. Returns an error, storing nothing,
	// if a message fails Validate.
	MessageInsertMany(ctx context.Context, ps []*MessageInsertParams) ([]MessageInsertResult, error)

	// MessageClaim claims up to Limit due messages (state queued, run_at <=
	// Now, expires_at > Now), oldest run_at first, for Holder until
	// LeaseUntil, in one transaction that also reserves a credit for each
	// claimed message that holds none: the oldest usable credit of the same
	// (app, openid) — for kind subscribe, a subscribe or long_term credit
	// of the message's template; for kind template, a form_id, then a
	// prepay_id — whose expires_at is after CreditCutoff, decremented as
	// CreditSpend does. A message for which no credit exists moves, in the
	// same transaction, to waiting_credit (WaitForCredit) or no_credit, and
	// is returned with State set accordingly so the caller can report it;
	// claimed messages are returned with State "sending", Attempts already
	// incremented, and the credit (id and value) attached. On PostgreSQL
	// concurrent claimers skip each other's rows (FOR UPDATE SKIP LOCKED):
	// no message and no credit use is ever claimed twice. A message whose
	// user has usable credits that are all locked by a concurrent
	// transaction at that instant is neither claimed nor moved: it stays
	// queued for the next claim (so it never lands in no_credit while a
	// credit exists). Returns an error if p.Validate fails.
	MessageClaim(ctx context.Context, p *MessageClaimParams) ([]*Message, error)

	// MessageFinishMany records the outcome of claimed messages in one
	// transaction: each change applies only if Holder still holds the
	// message (claimed_by = Holder and state = sending), otherwise it is
	// skipped and reported false. Each inserts its Attempt (if any), and
	// may kill the reserved credit (KillCreditReason) or refund it
	// (RefundCredit); either drops it from the message, so that the next
	// claim reserves another. Otherwise the message keeps its credit, also
	// when it is queued again (a retry reuses it). Every outcome, queued
	// included, clears ClaimedBy and LeaseUntil. An ID repeated in ps
	// applies once, for its first occurrence. Returns an error, changing
	// nothing, if an element fails Validate.
	MessageFinishMany(ctx context.Context, ps []*MessageFinishParams) ([]bool, error)

	// MessageRecover moves messages whose lease expired before Now out of
	// sending: to ambiguous, since their holder may have called WeChat
	// before it died. Returns the ids moved.
	MessageRecover(ctx context.Context, now time.Time) ([]int64, error)
	// MessageExpire moves queued and waiting_credit messages whose
	// expires_at is at or before now to expired, refunding and dropping any
	// credit they hold (a retry's), and returns the ids.
	MessageExpire(ctx context.Context, now time.Time) ([]int64, error)
	// MessageRequeueWaiting moves waiting_credit messages whose user now
	// has a usable credit (expiring after cutoff) back to queued.
	MessageRequeueWaiting(ctx context.Context, now, cutoff time.Time) (int64, error)
	// MessageCancel cancels a queued or waiting_credit message, refunding
	// any credit it holds (and dropping it from the message). Returns
	// ErrNotFound, or ErrConflict when the message is sending or terminal;
	// the current row either way on conflict.
	MessageCancel(ctx context.Context, id int64, now time.Time) (*Message, error)

	// MessageGet returns a message, or ErrNotFound.
	MessageGet(ctx context.Context, id int64) (*Message, error)
	// MessageAttempts returns a message's attempts in order.
	MessageAttempts(ctx context.Context, id int64) ([]*Attempt, error)
	// MessageList lists messages by id descending within the filter.
	MessageList(ctx context.Context, p *MessageListParams) ([]*Message, error)
	// MessageCounts counts messages per state (optionally of one app, one
	// broadcast), for progress, queue depth and metrics.
	MessageCounts(ctx context.Context, p *MessageCountsParams) (map[string]int64, error)
	// MessagePurge deletes terminal messages (and their attempts) last
	// updated before the given time, at most limit of them, and returns
	// how many: the retention job.
	MessagePurge(ctx context.Context, before time.Time, limit int) (int64, error)
	// MessageResolveAmbiguous settles an ambiguous subscribe message with
	// WeChat's own record: the oldest stored subscribe_msg_sent_event for
	// the message's (app, openid, template) whose CreateTime lies between
	// the message's creation and the moment it was marked ambiguous (give
	// or take ResolveSkew), and whose msgid no message holds yet. With
	// status "success" the message becomes delivered with that msgid; with
	// any other status, failed. Returns the new state, or "" when nothing
	// matched (the message stays ambiguous) or it is not ambiguous.
	MessageResolveAmbiguous(ctx context.Context, id int64, now time.Time) (string, error)
}

// ResolveSkew widens the window in which a sent event may match an
// ambiguous message: WeChat's CreateTime has whole seconds and its own clock.
const ResolveSkew = 5 * time.Second

// Message is a message row.
type Message struct {
	ID         int64
	AppID      string
	OpenID     string
	Kind       string // "subscribe" or "template"
	TemplateID string
	// Data is the JSON object keyword → value. It reads back equal as
	// JSON, not byte for byte: PostgreSQL (jsonb) normalises spacing and
	// key order.
	Data             []byte
	Page             string
	MiniprogramState string
	Lang             string
	EmphasisKeyword  string
	RunAt            time.Time // due time: send_at, then the retry time
	ExpiresAt        time.Time
	WaitForCredit    bool
	IdempotencyKey   string
	BroadcastID      int64
	ScheduleID       int64
	State            string
	Attempts         int
	ClaimedBy        string
	LeaseUntil       time.Time
	CreditID         int64  // the reserved credit; 0 when none
	CreditValue      string // its form_id/prepay_id, for legacy sends; never logged
	MsgID            string // WeChat's msgid once delivered
	LastError        string
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// MessageInsertParams are the fields of an accepted message.
type MessageInsertParams struct {
	AppID, OpenID, Kind, TemplateID string
	Data                            []byte // a JSON object; nil is stored as {}
	Page, MiniprogramState, Lang    string
	EmphasisKeyword                 string
	RunAt, ExpiresAt                time.Time
	WaitForCredit                   bool
	IdempotencyKey                  string // "" for none
	BroadcastID, ScheduleID         int64
	Now                             time.Time
}

// Validate reports a malformed message. Drivers call it for every message of
// a batch before touching the database.
func (p *MessageInsertParams) Validate() error {
	switch {
	case p.AppID == "":
		return fmt.Errorf("store: message insert: AppID required")
	case p.OpenID == "":
		return fmt.Errorf("store: message insert: OpenID required")
	case p.Kind != "subscribe" && p.Kind != "template":
		return fmt.Errorf("store: message insert: Kind %q not subscribe or template", p.Kind)
	case p.RunAt.IsZero() || p.Now.IsZero():
		return fmt.Errorf("store: message insert: RunAt and Now required")
	}
	return nil
}

// MessageInsertResult is the outcome of one insert of a batch.
type MessageInsertResult struct {
	ID      int64
	Created bool
}

// MessageClaimParams ask for due messages.
type MessageClaimParams struct {
	Holder       string
	Now          time.Time
	LeaseUntil   time.Time
	Limit        int
	CreditCutoff time.Time // Now + the ledger's safety margin
}

// Validate reports a malformed claim.
func (p *MessageClaimParams) Validate() error {
	switch {
	case p.Holder == "":
		return fmt.Errorf("store: message claim: Holder required")
	case p.Limit <= 0:
		return fmt.Errorf("store: message claim: Limit %d not positive", p.Limit)
	case p.Now.IsZero() || p.CreditCutoff.IsZero():
		return fmt.Errorf("store: message claim: Now and CreditCutoff required")
	case !p.LeaseUntil.After(p.Now):
		return fmt.Errorf("store: message claim: LeaseUntil %v not after Now %v", p.LeaseUntil, p.Now)
	}
	return nil
}

// MessageFinishParams record what happened to one claimed message.
type MessageFinishParams struct {
	ID     int64
	Holder string
	Now    time.Time
	// State is the new state: delivered, failed, no_credit, ambiguous (the
	// call may have reached WeChat, so it is never made again), or queued
	// (a retry, due at RunAt).
	State     string
	RunAt     time.Time
	MsgID     string
	LastError string
	Attempt   *Attempt // nil when WeChat was not called
	// What to do with the reserved credit.
	KillCreditReason string // WeChat rejected it: kill it and drop it from the message
	RefundCredit     bool   // the use was certainly not consumed: give it back and drop it
}

// Validate reports a malformed outcome.
func (p *MessageFinishParams) Validate() error {
	switch {
	case p.ID == 0 || p.Holder == "":
		return fmt.Errorf("store: message finish: ID and Holder required")
	case p.Now.IsZero():
		return fmt.Errorf("store: message finish %d: Now required", p.ID)
	case p.KillCreditReason != "" && p.RefundCredit:
		return fmt.Errorf("store: message finish %d: both KillCreditReason and RefundCredit", p.ID)
	}
	switch p.State {
	case "delivered", "failed", "no_credit", "ambiguous":
	case "queued":
		if p.RunAt.IsZero() {
			return fmt.Errorf("store: message finish %d: a retry needs RunAt", p.ID)
		}
	default:
		return fmt.Errorf("store: message finish %d: State %q not delivered, failed, no_credit, ambiguous or queued", p.ID, p.State)
	}
	if p.Attempt != nil && p.Attempt.At.IsZero() {
		return fmt.Errorf("store: message finish %d: Attempt.At required", p.ID)
	}
	return nil
}

// Attempt is one call to WeChat for a message. In MessageFinishParams,
// MessageID is ignored (the message's ID is used) and N = 0 means the
// message's Attempts.
type Attempt struct {
	MessageID int64
	N         int
	At        time.Time
	ErrCode   int
	ErrMsg    string
	Class     string
	LatencyMS float64
}

// MessageListParams filter MessageList. Empty fields are not filtered on.
type MessageListParams struct {
	AppIDs      []string // messages of these apps only; nil: all apps
	OpenID      string
	State       string
	BroadcastID int64
	BeforeID    int64 // paging: ids below this; 0: from the newest
	Limit       int   // at most this many; <= 0: 100
}

// MessageCountsParams filter MessageCounts.
type MessageCountsParams struct {
	AppID       string
	BroadcastID int64
}
