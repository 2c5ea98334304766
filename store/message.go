package store

import (
	"fmt"
	"slices"
	"time"
)

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

// MessageLockDueParams ask for due messages.
type MessageLockDueParams struct {
	Now   time.Time
	Limit int
}

// MessageClaimManyParams hand locked messages to a holder.
type MessageClaimManyParams struct {
	Holder     string
	LeaseUntil time.Time
	Now        time.Time
	Claims     []MessageClaim
}

// Validate reports a malformed claim.
func (p *MessageClaimManyParams) Validate() error {
	switch {
	case p.Holder == "":
		return fmt.Errorf("store: message claim: Holder required")
	case p.Now.IsZero():
		return fmt.Errorf("store: message claim: Now required")
	case !p.LeaseUntil.After(p.Now):
		return fmt.Errorf("store: message claim: LeaseUntil %v not after Now %v", p.LeaseUntil, p.Now)
	}
	return nil
}

// MessageClaim is one message of a claim and the credit reserved for it.
type MessageClaim struct {
	ID          int64
	CreditID    int64 // 0: keep the credit it holds (a retry's)
	CreditValue string
}

// MessageUpdateParams change one message's state (MessageUpdateMany).
type MessageUpdateParams struct {
	ID int64
	// Holder, when set, makes the change conditional: only while the
	// message is sending and claimed by Holder.
	Holder     string
	State      string
	RunAt      time.Time // the new due time; zero: unchanged
	MsgID      string    // WeChat's msgid; "": unchanged
	LastError  string
	DropCredit bool // forget the reserved credit (killed, refunded or gone)
	// Uncount takes back one of the message's Attempts: the claim counted a
	// call that does not count toward giving up (WeChat was not called, or
	// refused the app's rate, not the message).
	Uncount bool
	Now     time.Time
}

// Validate reports a malformed update.
func (p *MessageUpdateParams) Validate() error {
	switch {
	case p.ID == 0:
		return fmt.Errorf("store: message update: ID required")
	case p.State == "":
		return fmt.Errorf("store: message update %d: State required", p.ID)
	case p.Now.IsZero():
		return fmt.Errorf("store: message update %d: Now required", p.ID)
	}
	return nil
}

// MessageRequeueWaitingParams say which credits make a waiting message due.
type MessageRequeueWaitingParams struct {
	Now            time.Time
	Cutoff         time.Time // a credit must expire after this
	SubscribeKinds []string  // credit kinds, of the message's template, for subscribe messages
	TemplateKinds  []string  // credit kinds, of any template, for legacy messages
}

// CreditReserveParams ask for one use of a user's credit.
type CreditReserveParams struct {
	AppID, OpenID string
	TemplateID    string   // "" for legacy kinds
	Kinds         []string // in order of preference; not empty
	Cutoff        time.Time
	Now           time.Time
}

// CreditReserved is a use taken by CreditReserveMany.
type CreditReserved struct {
	ID    int64 // 0: none taken
	Value string
	Busy  bool // none taken, but a usable credit is locked by another transaction
}

// EventFindSentParams ask for the sent event of an ambiguous message.
type EventFindSentParams struct {
	MessageID int64
	Skew      time.Duration
}

// Attempt is one call to WeChat for a message; N counts from 1.
type Attempt struct {
	MessageID int64
	// N numbers the message's calls from 1; 0 on insert: after its last.
	// It can exceed Message.Attempts, which counts only the calls that
	// count toward giving up.
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

// NumberAttempts sets the N of the attempts inserted with N 0 from the
// (message id, n) pairs next yields, for drivers of AttemptInsertMany: a
// message's numbered attempts take its new numbers in order.
func NumberAttempts(as []*Attempt, next func(id *int64, n *int) (bool, error)) error {
	given := make(map[int64]map[int]bool)
	for _, a := range as {
		if a.N > 0 {
			if given[a.MessageID] == nil {
				given[a.MessageID] = map[int]bool{}
			}
			given[a.MessageID][a.N] = true
		}
	}
	numbered := make(map[int64][]int, len(as))
	for {
		var (
			id int64
			n  int
		)
		ok, err := next(&id, &n)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if !given[id][n] {
			numbered[id] = append(numbered[id], n)
		}
	}
	for _, ns := range numbered {
		slices.Sort(ns)
	}
	for _, a := range as {
		if ns := numbered[a.MessageID]; a.N == 0 && len(ns) > 0 {
			a.N, numbered[a.MessageID] = ns[0], ns[1:]
		}
	}
	return nil
}

// MessageRequeueParams send an ended message again (MessageRequeue).
type MessageRequeueParams struct {
	ID        int64
	RunAt     time.Time // the new due time
	ExpiresAt time.Time // the new expiry; zero: never
	LastError string
	Now       time.Time
}

// Validate reports a malformed requeue.
func (p *MessageRequeueParams) Validate() error {
	switch {
	case p.ID == 0:
		return fmt.Errorf("store: message requeue: ID required")
	case p.RunAt.IsZero() || p.Now.IsZero():
		return fmt.Errorf("store: message requeue %d: RunAt and Now required", p.ID)
	}
	return nil
}
