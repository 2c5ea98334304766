package wxnotify

import (
	"context"
	"iter"
	"time"
)

// BroadcastState is where a broadcast's acceptance is. It says nothing of
// delivery: the progress of each message is in Broadcast.Counts.
type BroadcastState string

const (
	// BroadcastAccepting: the broadcast row exists and its recipients are
	// being read and stored in chunks. Moves to accepted or aborted when
	// the request ends. A broadcast left here was cut off by a crash of
	// the instance; the messages stored before it are sent.
	BroadcastAccepting BroadcastState = "accepting"
	// BroadcastAccepted: every recipient was read and has a message; Accepted
	// is their number. Terminal.
	BroadcastAccepted BroadcastState = "accepted"
	// BroadcastAborted: the request failed part way (a bad recipient, a
	// malformed or truncated body, the client went away). Terminal. The
	// messages stored before the failure (Accepted of them) stay queued and
	// are sent like any other; Error says what went wrong.
	BroadcastAborted BroadcastState = "aborted"
	// BroadcastFinished: accepted, and every message of it has ended;
	// Counts are its outcomes, kept with the broadcast (they outlive the
	// messages' retention). Terminal.
	BroadcastFinished BroadcastState = "finished"
)

// Valid reports whether s is one of the broadcast states.
func (s BroadcastState) Valid() bool {
	switch s {
	case BroadcastAccepting, BroadcastAccepted, BroadcastAborted, BroadcastFinished:
		return true
	}
	return false
}

// BroadcastFilter selects broadcasts for FindBroadcasts; nil fields match
// all. Broadcasts come newest first.
type BroadcastFilter struct {
	AppID *string
	State *BroadcastState
	// BeforeID pages: only broadcasts with smaller ids (0: from the newest).
	BeforeID int64
	// Limit bounds the page; 0 means DefaultBroadcastPage.
	Limit int
}

// DefaultBroadcastPage and MaxBroadcastPage bound a page of FindBroadcasts.
const (
	DefaultBroadcastPage = 100
	MaxBroadcastPage     = 1000
)

// Limits of a broadcast.
const (
	// MaxBroadcastRecipients bounds the recipients of one broadcast.
	MaxBroadcastRecipients = 1_000_000
	// MaxBroadcastBodyBytes bounds the request body of POST /v1/broadcasts.
	MaxBroadcastBodyBytes = 200 << 20
	// MaxBroadcastLineBytes bounds one line of an NDJSON body (the header
	// or one recipient) and one recipient of the JSON form, as sent (JSON
	// escapes included), and the header fields before "recipients". The
	// server refuses a longer one as soon as it has read this much of it,
	// so an upload holds at most about this much of its body in memory.
	MaxBroadcastLineBytes = 64 << 10
	// MaxBroadcastUpload bounds how long one broadcast upload may take. A
	// broadcast still accepting after this was cut short by a crash: the
	// service marks it aborted (the recipients stored are still sent).
	MaxBroadcastUpload = 15 * time.Minute
)

// Broadcast is one template and data sent to many users: one message per
// recipient, each with BroadcastID set.
type Broadcast struct {
	ID         int64       `json:"id"`
	AppID      string      `json:"appid"`
	Kind       MessageKind `json:"kind"`
	TemplateID string      `json:"template_id"`
	// Data is every recipient's data; a recipient's own Data overrides
	// keywords of it.
	Data             map[string]string `json:"data"`
	Page             string            `json:"page,omitempty"`
	MiniprogramState string            `json:"miniprogram_state,omitempty"`
	Lang             string            `json:"lang,omitempty"`
	EmphasisKeyword  string            `json:"emphasis_keyword,omitempty"`
	SendAt           time.Time         `json:"send_at,omitzero"`
	// ExpiresAt is every message's expiry; zero means the default TTL.
	ExpiresAt     time.Time `json:"expires_at,omitzero"`
	WaitForCredit bool      `json:"wait_for_credit,omitempty"`

	State BroadcastState `json:"state"`
	// Accepted counts the messages stored: one per recipient read.
	Accepted int64 `json:"accepted"`
	// Error says why an aborted broadcast stopped.
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// FinishedAt is when its last message ended (state finished).
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// IdempotencyKey is the Idempotency-Key it was created with: a retry
	// with the same key and request gets this broadcast; another request
	// under it is ECONFLICT.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Retried is set by CreateBroadcast when the idempotency key found
	// the first broadcast (b is that one, nothing was stored).
	Retried bool `json:"-"`

	// Counts are the broadcast's messages per state, filled by
	// FindBroadcastByID; Total is their sum and Pending those not yet in a
	// terminal state.
	Counts  map[MessageState]int64 `json:"counts,omitempty"`
	Total   int64                  `json:"total"`
	Pending int64                  `json:"pending"`
}

// BroadcastRecipient is one user of a broadcast, with the keywords that
// differ for them.
type BroadcastRecipient struct {
	OpenID string            `json:"openid"`
	Data   map[string]string `json:"data,omitempty"`
}

// BroadcastService sends one template to many users.
type BroadcastService interface {
	// CreateBroadcast validates b (as a message, once), stores the broadcast
	// as accepting, then reads recipients one at a time and stores their
	// messages in chunks, so a million recipients are never all in memory.
	// At the end it marks the broadcast accepted with the number of messages
	// and fills b.ID, b.State and b.Accepted. A recipient is an openid and
	// optional data overrides; the merged data is checked as Enqueue checks
	// it. Recipients are not deduplicated: an openid listed twice gets two
	// messages.
	//
	// On the first bad recipient, or an error yielded by recipients, it
	// stops, marks the broadcast aborted and returns the error: EINVALID
	// naming "recipients[i].openid" or "recipients[i].data.thing1" for a bad
	// recipient. The chunks stored before it stay and are sent; b.ID and
	// b.Accepted say how many. Returns EFORBIDDEN for an app the caller may
	// not act for, ENOTFOUND for an unknown app, and EINVALID naming the
	// field for bad template fields (then nothing is stored).
	CreateBroadcast(ctx context.Context, b *Broadcast, recipients iter.Seq2[BroadcastRecipient, error]) error
	// With b.IdempotencyKey set, a key the app used before returns the
	// first broadcast in b (its recipients read, to compare, but not
	// stored) when the request is the same, header and recipients; and
	// ECONFLICT naming "idempotency_key" when it differs, when the first
	// is still uploading, or when the first was aborted.
	//
	// FindBroadcastByID returns a broadcast with its messages counted by
	// state. Returns ENOTFOUND when there is none or the caller may not act
	// for its app.
	FindBroadcastByID(ctx context.Context, id int64) (*Broadcast, error)
	// FindBroadcasts lists the broadcasts of the apps the caller may act
	// for, newest first, with their counts. Returns EINVALID for a bad
	// filter.
	FindBroadcasts(ctx context.Context, f BroadcastFilter) ([]*Broadcast, error)
}
