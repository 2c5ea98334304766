// Package queue is the message queue's rules, written once over the store's
// primitives and composed in transactions: claim-with-credit, finish,
// expire, fail-for-template, cancel, recover, resolve. The message table is
// the queue (docs/decisions.md); the drivers only run SQL.
//
// Every move follows the one state machine of CanMove, and whatever ends a
// message writes its state, its attempt and its webhook-outbox rows in the
// same transaction, so an outcome is never held only in memory: a crash or
// a database outage loses none, and each reaches the outbox once. After
// the commit, OnEnd is told of each (metrics), in one place.
//
// Due times, leases and expiry are compared with the database's clock
// (store.Executor.Now), never an instance's own, so an instance whose clock
// is ahead can neither send early, expire early, nor take over live leases.
// Params.Now fields exist for tests, which drive the queue with fake times;
// left zero, as the pipeline leaves them, the database's clock is used.
package queue

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
)

// Defaults of the queue; a zero field means its default.
const (
	// DefaultBatch bounds the messages one maintenance transaction ends
	// (expiry, recovery); a run repeats until fewer remain.
	DefaultBatch = 1000
)

// NoCreditError is the last error of a message the claim found no credit for.
const NoCreditError = "no usable credit"

// moves is the state machine: the states each state may move to.
//
//	queued ──claim──▶ sending ──finish──▶ delivered | failed | no_credit | ambiguous
//	  ▲   ╲                 ╲──finish(retry)──▶ queued (run_at later)
//	  │    ╲──claim, no credit, wait──▶ waiting_credit ──credit granted──▶ queued
//	  │     ╲─claim, no credit──▶ no_credit
//	  ╰── cancel ──▶ cancelled      queued/waiting past expires_at ──▶ expired
//	queued/waiting of a template deleted on WeChat ──▶ failed
//	sending with an expired lease ──recover──▶ ambiguous ──sent event──▶ delivered | failed
//	failed | no_credit | expired ──retry (an operator)──▶ queued
var moves = map[wxnotify.MessageState][]wxnotify.MessageState{
	wxnotify.MessageQueued: {wxnotify.MessageSending, wxnotify.MessageWaitingCredit, wxnotify.MessageNoCredit,
		wxnotify.MessageExpired, wxnotify.MessageCancelled, wxnotify.MessageFailed},
	wxnotify.MessageWaitingCredit: {wxnotify.MessageQueued, wxnotify.MessageExpired, wxnotify.MessageCancelled,
		wxnotify.MessageFailed},
	wxnotify.MessageSending: {wxnotify.MessageDelivered, wxnotify.MessageFailed, wxnotify.MessageNoCredit,
		wxnotify.MessageAmbiguous, wxnotify.MessageQueued},
	wxnotify.MessageAmbiguous: {wxnotify.MessageDelivered, wxnotify.MessageFailed},
	// Retry only (wxnotify.MessageState.Retryable).
	wxnotify.MessageFailed:   {wxnotify.MessageQueued},
	wxnotify.MessageNoCredit: {wxnotify.MessageQueued},
	wxnotify.MessageExpired:  {wxnotify.MessageQueued},
}

// CanMove reports whether the state machine allows a message in from to
// move to to.
func CanMove(from, to wxnotify.MessageState) bool {
	for _, s := range moves[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Ended is a message that reached a terminal state (and was recorded).
type Ended struct {
	Message *store.Message // as it is after the move
	State   wxnotify.MessageState
	Attempt *store.Attempt // the last call to WeChat, when this move made one
}

// Queue applies the queue's rules to a database. Store is required.
type Queue struct {
	Store store.Driver
	// CreditMargin is cut from legacy credits' lifetime when a claim
	// picks one (default wxnotify.DefaultCreditSafetyMargin).
	CreditMargin time.Duration
	// OnEnd, when set, is called after each commit for every message the
	// transaction ended (metrics). It must not block.
	OnEnd func(Ended)
	// OnOutbox, when set, is called after a commit that wrote webhook
	// events (to wake their sender). It must not block.
	OnOutbox func()
	// Batch bounds one maintenance transaction (DefaultBatch).
	Batch int
}

// New returns a Queue over st with the defaults.
func New(st store.Driver) *Queue { return &Queue{Store: st} }

func (q *Queue) margin() time.Duration {
	if q.CreditMargin > 0 {
		return q.CreditMargin
	}
	return wxnotify.DefaultCreditSafetyMargin
}

func (q *Queue) batch() int {
	if q.Batch > 0 {
		return q.Batch
	}
	return DefaultBatch
}

// clock returns now unless it is zero, else the database's clock.
func clock(ctx context.Context, e store.Executor, now time.Time) (time.Time, error) {
	if !now.IsZero() {
		return now, nil
	}
	now, err := e.Now(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("database clock: %w", err)
	}
	return now, nil
}

// ended collects the messages a transaction ends: their outbox rows are
// written before the commit and OnEnd is told after it.
type ended struct {
	xs      []Ended
	outbox  int64 // outbox rows written
	written int   // of xs, how many record has written
}

func (e *ended) add(m *store.Message, a *store.Attempt) {
	e.xs = append(e.xs, Ended{Message: m, State: wxnotify.MessageState(m.State), Attempt: a})
}

// record writes the webhook-outbox rows of the ended messages not written
// yet, in tx.
func (e *ended) record(ctx context.Context, tx store.Executor, now time.Time) error {
	todo := e.xs[e.written:]
	if len(todo) == 0 {
		return nil
	}
	ps := make([]*store.WebhookOutboxInsertParams, 0, len(todo))
	for _, x := range todo {
		ev := WebhookEvent(x, now)
		payload, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("webhook event of message %d: %w", x.Message.ID, err)
		}
		ps = append(ps, &store.WebhookOutboxInsertParams{
			AppID: x.Message.AppID, MessageID: x.Message.ID, Event: ev.Event, Payload: payload, Now: now,
		})
	}
	n, err := tx.WebhookOutboxInsertMany(ctx, ps)
	if err != nil {
		return fmt.Errorf("webhook outbox: %w", err)
	}
	e.outbox += n
	e.written = len(e.xs)
	return nil
}

func (q *Queue) emit(e *ended) {
	if q.OnEnd != nil {
		for _, x := range e.xs {
			q.OnEnd(x)
		}
	}
	if e.outbox > 0 && q.OnOutbox != nil {
		q.OnOutbox()
	}
}

// WebhookEvent is the outcome event of an ended message, as webhooks
// receive it.
func WebhookEvent(x Ended, at time.Time) wxnotify.WebhookEvent {
	m := x.Message
	ev := wxnotify.WebhookEvent{
		Event: wxnotify.WebhookEventName(x.State), MessageID: m.ID, AppID: m.AppID, OpenID: m.OpenID,
		State: x.State, MsgID: m.MsgID, ErrMsg: m.LastError, At: at.UTC(),
	}
	if a := x.Attempt; a != nil {
		ev.ErrCode, ev.ErrMsg = a.ErrCode, a.ErrMsg
		if a.ErrCode == 0 {
			ev.ErrMsg = ""
		}
	}
	return ev
}

// inTx runs fn in a transaction, then tells OnEnd of what it ended.
func (q *Queue) inTx(ctx context.Context, fn func(tx store.Executor, e *ended) error) error {
	var e ended
	err := store.InTx(ctx, q.Store, func(tx store.Executor) error {
		e = ended{}
		return fn(tx, &e)
	})
	if err == nil {
		q.emit(&e)
	}
	return err
}

// InsertParams are an accepted message: the row, and its TTL, which the
// queue turns into ExpiresAt on the database's clock.
type InsertParams struct {
	store.MessageInsertParams
	// TTL, when positive and ExpiresAt is zero, sets ExpiresAt to Now +
	// TTL.
	TTL time.Duration
}

// Insert stores accepted messages in one transaction (the group commit),
// as store.Executor.MessageInsertMany does. A zero Now is the database's
// clock, a RunAt that is zero or before Now is Now, so an instance's clock
// never delays or advances a message's due time.
func (q *Queue) Insert(ctx context.Context, ps []*InsertParams) ([]store.MessageInsertResult, error) {
	if len(ps) == 0 {
		return []store.MessageInsertResult{}, nil
	}
	var res []store.MessageInsertResult
	err := store.InTx(ctx, q.Store, func(tx store.Executor) error {
		var dbNow time.Time
		rows := make([]*store.MessageInsertParams, len(ps))
		for i, p := range ps {
			r := p.MessageInsertParams
			if r.Now.IsZero() {
				if dbNow.IsZero() {
					var err error
					if dbNow, err = clock(ctx, tx, time.Time{}); err != nil {
						return err
					}
				}
				r.Now = dbNow
			}
			if r.RunAt.IsZero() || r.RunAt.Before(r.Now) {
				r.RunAt = r.Now
			}
			if r.ExpiresAt.IsZero() && p.TTL > 0 {
				r.ExpiresAt = r.Now.Add(p.TTL)
			}
			rows[i] = &r
		}
		var err error
		res, err = tx.MessageInsertMany(ctx, rows)
		return err
	})
	return res, err
}

// ClaimParams ask for due messages.
type ClaimParams struct {
	Holder string
	Limit  int
	// LeaseTTL is how long the holder may keep a claimed message.
	LeaseTTL time.Duration
	// Now, LeaseUntil and CreditCutoff are for tests; zero: the database's
	// clock, Now + LeaseTTL, Now + the queue's CreditMargin.
	Now          time.Time
	LeaseUntil   time.Time
	CreditCutoff time.Time
}

// Validate reports a malformed claim.
func (p *ClaimParams) Validate() error {
	switch {
	case p.Holder == "":
		return fmt.Errorf("queue: claim: Holder required")
	case p.Limit <= 0:
		return fmt.Errorf("queue: claim: Limit %d not positive", p.Limit)
	case p.LeaseUntil.IsZero() && p.LeaseTTL <= 0:
		return fmt.Errorf("queue: claim: LeaseTTL or LeaseUntil required")
	case !p.LeaseUntil.IsZero() && !p.Now.IsZero() && !p.LeaseUntil.After(p.Now):
		return fmt.Errorf("queue: claim: LeaseUntil %v not after Now %v", p.LeaseUntil, p.Now)
	}
	return nil
}

// NextDue returns how long until the earliest queued message is due, on
// the database's clock: 0 or less when one is due now (but may not be
// claimable, its credit busy), and ok false when none is queued.
func (q *Queue) NextDue(ctx context.Context) (wait time.Duration, ok bool, err error) {
	now, err := clock(ctx, q.Store, time.Time{})
	if err != nil {
		return 0, false, err
	}
	next, err := q.Store.MessageNextDue(ctx, now)
	if err != nil || next.IsZero() {
		return 0, false, err
	}
	return next.Sub(now), true, nil
}

// Claim claims up to Limit due messages (queued, run_at <= Now, not
// expired), oldest run_at first, for Holder, in one transaction that also
// reserves a credit for each that holds none: the user's oldest usable
// credit of wxnotify.CreditKindsFor the message's kind, expiring after the
// cutoff. A message for which no credit exists moves, in the same
// transaction, to waiting_credit (WaitForCredit) or no_credit — the latter
// with its outcome recorded. Claimed messages are returned with State
// sending, Attempts incremented and the credit attached; moved ones with
// their new State. A message whose user's usable credits are all locked by
// a concurrent claim at that instant stays queued for the next claim, so
// it never ends in no_credit while a credit exists. No message and no
// credit use is ever claimed twice, by any number of instances.
func (q *Queue) Claim(ctx context.Context, p *ClaimParams) ([]*store.Message, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if q.Store.Capabilities().SingleWriter {
		// Look before taking the one writer: an idle poll must not queue
		// behind accepts and finishes.
		now, err := clock(ctx, q.Store, p.Now)
		if err != nil {
			return nil, err
		}
		if any, err := q.Store.MessageAnyDue(ctx, now); err != nil || !any {
			return []*store.Message{}, err
		}
	}
	var out []*store.Message
	err := q.inTx(ctx, func(tx store.Executor, e *ended) error {
		now, err := clock(ctx, tx, p.Now)
		if err != nil {
			return err
		}
		// Times as the store keeps them, so the rows returned equal the
		// rows read back.
		now = now.UTC().Truncate(store.TimePrecision)
		lease, cutoff := p.LeaseUntil.UTC().Truncate(store.TimePrecision), p.CreditCutoff
		if lease.IsZero() {
			lease = now.Add(p.LeaseTTL).Truncate(store.TimePrecision)
		}
		if cutoff.IsZero() {
			cutoff = now.Add(q.margin())
		}
		msgs, err := tx.MessageLockDue(ctx, &store.MessageLockDueParams{Now: now, Limit: p.Limit})
		if err != nil || len(msgs) == 0 {
			out = msgs
			return err
		}
		var (
			need []*store.CreditReserveParams
			idx  []int
		)
		for i, m := range msgs {
			if m.CreditID != 0 {
				continue // a retry keeps its credit
			}
			kinds, ofTemplate := creditKinds(wxnotify.MessageKind(m.Kind))
			rp := &store.CreditReserveParams{AppID: m.AppID, OpenID: m.OpenID, Kinds: kinds, Cutoff: cutoff, Now: now}
			if ofTemplate {
				rp.TemplateID = m.TemplateID
			}
			need, idx = append(need, rp), append(idx, i)
		}
		busy := make([]bool, len(msgs))
		if len(need) > 0 {
			got, err := tx.CreditReserveMany(ctx, need)
			if err != nil {
				return fmt.Errorf("reserve credits: %w", err)
			}
			for j, r := range got {
				m := msgs[idx[j]]
				m.CreditID, m.CreditValue, busy[idx[j]] = r.ID, r.Value, r.Busy
			}
		}
		claim := &store.MessageClaimManyParams{Holder: p.Holder, LeaseUntil: lease, Now: now}
		var none []*store.MessageUpdateParams
		out = msgs[:0]
		for i, m := range msgs {
			switch {
			case busy[i]:
				continue // stays queued: its credits are another claim's at this instant
			case m.CreditID != 0:
				claim.Claims = append(claim.Claims, store.MessageClaim{ID: m.ID, CreditID: m.CreditID, CreditValue: m.CreditValue})
				m.State, m.ClaimedBy, m.LeaseUntil, m.Attempts = string(wxnotify.MessageSending), p.Holder, lease, m.Attempts+1
			default:
				m.State, m.LastError = string(wxnotify.MessageNoCredit), NoCreditError
				if m.WaitForCredit {
					m.State = string(wxnotify.MessageWaitingCredit)
				}
				none = append(none, &store.MessageUpdateParams{ID: m.ID, State: m.State, LastError: m.LastError, Now: now})
				if wxnotify.MessageState(m.State).Terminal() {
					e.add(m, nil)
				}
			}
			m.UpdatedAt = now
			out = append(out, m)
		}
		if len(claim.Claims) > 0 {
			if err := tx.MessageClaimMany(ctx, claim); err != nil {
				return err
			}
		}
		if len(none) > 0 {
			if _, err := tx.MessageUpdateMany(ctx, none); err != nil {
				return err
			}
		}
		return e.record(ctx, tx, now)
	})
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	return out, nil
}

// FinishParams record what happened to one claimed message.
type FinishParams struct {
	ID     int64
	Holder string
	// Now is when; zero: the database's clock.
	Now time.Time
	// State is the new state: delivered, failed, no_credit, ambiguous (the
	// call may have reached WeChat, so it is never made again), or queued
	// (a retry, due at RunAt, or else RetryAfter from Now; one is
	// required).
	State      string
	RunAt      time.Time
	RetryAfter time.Duration
	MsgID      string
	LastError  string
	Attempt    *store.Attempt // nil when WeChat was not called; N 0: numbered after the message's last
	// Prior are calls made for this outcome before Attempt (a send with a
	// token WeChat rejected, repeated at once with a new one), recorded
	// before it.
	Prior []*store.Attempt
	// What to do with the reserved credit.
	KillCreditReason string // WeChat rejected it: kill it and drop it from the message
	RefundCredit     bool   // the use was certainly not consumed: give it back and drop it
	// Uncount gives back the claim's attempt: WeChat was not called, or
	// refused the app's rate (45011), not the message. Only with queued.
	Uncount bool
}

// Validate reports a malformed outcome.
func (p *FinishParams) Validate() error {
	switch {
	case p.ID == 0 || p.Holder == "":
		return fmt.Errorf("queue: finish: ID and Holder required")
	case p.KillCreditReason != "" && p.RefundCredit:
		return fmt.Errorf("queue: finish %d: both KillCreditReason and RefundCredit", p.ID)
	case !CanMove(wxnotify.MessageSending, wxnotify.MessageState(p.State)):
		return fmt.Errorf("queue: finish %d: State %q not delivered, failed, no_credit, ambiguous or queued", p.ID, p.State)
	case p.State == string(wxnotify.MessageQueued) && p.RunAt.IsZero() && p.RetryAfter <= 0:
		return fmt.Errorf("queue: finish %d: a retry needs RunAt or RetryAfter", p.ID)
	case p.Attempt != nil && p.Attempt.At.IsZero():
		return fmt.Errorf("queue: finish %d: Attempt.At required", p.ID)
	case p.Uncount && p.State != string(wxnotify.MessageQueued):
		return fmt.Errorf("queue: finish %d: Uncount only with a retry (queued)", p.ID)
	}
	return nil
}

// Finish records the outcomes of claimed messages in one transaction: each
// applies only while Holder still holds the message (sending, claimed by
// Holder), else it is skipped and reported false. Each inserts its Attempt
// (if any), and may kill the reserved credit (KillCreditReason) or refund
// it (RefundCredit); either drops it from the message, so that the next
// claim reserves another. Otherwise the message keeps its credit, also when
// it is queued again (a retry reuses it). Every outcome clears the claim;
// terminal ones write their outbox rows. An ID repeated in ps applies once,
// for its first occurrence. Returns an error, changing nothing, if an
// element fails Validate.
func (q *Queue) Finish(ctx context.Context, ps []*FinishParams) ([]bool, error) {
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			return nil, err
		}
	}
	applied := make([]bool, len(ps))
	if len(ps) == 0 {
		return applied, nil
	}
	err := q.inTx(ctx, func(tx store.Executor, e *ended) error {
		clear(applied)
		var dbNow time.Time
		for _, p := range ps {
			if p.Now.IsZero() {
				var err error
				if dbNow, err = clock(ctx, tx, time.Time{}); err != nil {
					return err
				}
				break
			}
		}
		ups := make([]*store.MessageUpdateParams, len(ps))
		for i, p := range ps {
			now := p.Now
			if now.IsZero() {
				now = dbNow
			}
			u := &store.MessageUpdateParams{ID: p.ID, Holder: p.Holder, State: p.State, MsgID: p.MsgID,
				LastError: p.LastError, DropCredit: p.KillCreditReason != "" || p.RefundCredit, Uncount: p.Uncount, Now: now}
			if p.State == string(wxnotify.MessageQueued) {
				u.RunAt = p.RunAt
				if u.RunAt.IsZero() {
					u.RunAt = now.Add(p.RetryAfter)
				}
			}
			ups[i] = u
		}
		rows, err := tx.MessageUpdateMany(ctx, ups)
		if err != nil {
			return err
		}
		var (
			attempts []*store.Attempt
			credits  settlements
			sends    dailySends
		)
		for i, m := range rows {
			if m == nil {
				continue
			}
			p := ps[i]
			applied[i] = true
			for _, pa := range p.Prior {
				c := *pa
				c.MessageID = m.ID
				attempts = append(attempts, &c)
			}
			var a *store.Attempt
			if p.Attempt != nil {
				c := *p.Attempt
				c.MessageID = m.ID
				a = &c
				attempts = append(attempts, a)
			}
			credits.add(m, p.KillCreditReason, p.RefundCredit)
			if m.State == string(wxnotify.MessageDelivered) {
				sends.add(m.AppID, m.Kind, p.Holder, cmp.Or(p.Now, dbNow))
			}
			if wxnotify.MessageState(m.State).Terminal() {
				e.add(m, a)
			}
		}
		if err := credits.apply(ctx, tx); err != nil {
			return err
		}
		if len(attempts) > 0 {
			if err := tx.AttemptInsertMany(ctx, attempts); err != nil {
				return fmt.Errorf("record attempts: %w", err)
			}
		}
		if err := tx.DailySendAdd(ctx, sends.list()); err != nil {
			return fmt.Errorf("count daily sends: %w", err)
		}
		return e.record(ctx, tx, cmp.Or(dbNow, ps[0].Now))
	})
	if err != nil {
		return nil, fmt.Errorf("finish messages: %w", err)
	}
	return applied, nil
}

// dailySends counts a transaction's deliveries per app, kind and quota day,
// for the daily send limits.
type dailySends map[store.DailySend]int64

func (d *dailySends) add(appID, kind, holder string, at time.Time) {
	if *d == nil {
		*d = dailySends{}
	}
	(*d)[store.DailySend{AppID: appID, Kind: kind, Holder: holder, Day: wxnotify.QuotaDay(at)}]++
}

func (d dailySends) list() []*store.DailySend {
	out := make([]*store.DailySend, 0, len(d))
	for k, n := range d {
		k.Sent = n
		out = append(out, &k)
	}
	return out
}

// settlements are the credits a transaction kills or refunds: the ones the
// messages it updated held before the update dropped them.
type settlements []settlement

type settlement struct {
	creditID   int64
	killReason string // "" refunds
}

// add notes what to do with the credit m held, and forgets it on m.
func (ss *settlements) add(m *store.Message, killReason string, refund bool) {
	if m.CreditID == 0 || (killReason == "" && !refund) {
		return
	}
	*ss = append(*ss, settlement{creditID: m.CreditID, killReason: killReason})
	m.CreditID, m.CreditValue = 0, ""
}

// apply kills and refunds in credit id order, so that concurrent
// transactions lock credit rows in one order and never deadlock. A purged
// credit is gone already: nothing to kill or refund.
func (ss settlements) apply(ctx context.Context, tx store.Executor) error {
	slices.SortFunc(ss, func(a, b settlement) int { return cmp.Compare(a.creditID, b.creditID) })
	for _, x := range ss {
		var err error
		if x.killReason != "" {
			err = tx.CreditKill(ctx, x.creditID, x.killReason)
		} else {
			err = tx.CreditRefund(ctx, x.creditID)
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("credit %d: %w", x.creditID, err)
		}
	}
	return nil
}

// end moves locked messages to state, giving back the credit each holds,
// and records their outcomes.
func end(ctx context.Context, tx store.Executor, e *ended, msgs []*store.Message, state wxnotify.MessageState, lastError func(*store.Message) string, now time.Time) error {
	if len(msgs) == 0 {
		return nil
	}
	ups := make([]*store.MessageUpdateParams, 0, len(msgs))
	for _, m := range msgs {
		if !CanMove(wxnotify.MessageState(m.State), state) {
			return fmt.Errorf("message %d: %s cannot move to %s", m.ID, m.State, state)
		}
		le := m.LastError
		if lastError != nil {
			le = lastError(m)
		}
		ups = append(ups, &store.MessageUpdateParams{ID: m.ID, State: string(state), LastError: le, DropCredit: m.CreditID != 0, Now: now})
	}
	rows, err := tx.MessageUpdateMany(ctx, ups)
	if err != nil {
		return err
	}
	var credits settlements
	for _, m := range rows {
		if m == nil {
			continue
		}
		credits.add(m, "", true)
		e.add(m, nil)
	}
	if err := credits.apply(ctx, tx); err != nil {
		return err
	}
	return e.record(ctx, tx, now)
}

// Expire moves queued and waiting_credit messages whose expires_at is at or
// before now (zero: the database's clock) to expired, refunding and
// dropping any credit they hold (a retry's), and returns their ids in
// order.
func (q *Queue) Expire(ctx context.Context, now time.Time) ([]int64, error) {
	return q.endAll(ctx, "expire messages", now, func(ctx context.Context, tx store.Executor, now time.Time) ([]*store.Message, error) {
		return tx.MessageLockExpired(ctx, now, q.batch())
	}, wxnotify.MessageExpired, nil)
}

// FailTemplate moves the app's queued and waiting_credit messages of
// templateID to failed with last_error = reason, refunding and dropping any
// credit they hold, and returns their ids in order. Messages being sent or
// terminal are untouched.
func (q *Queue) FailTemplate(ctx context.Context, appID, templateID, reason string, now time.Time) ([]int64, error) {
	var ids []int64
	err := q.inTx(ctx, func(tx store.Executor, e *ended) error {
		now, err := clock(ctx, tx, now)
		if err != nil {
			return err
		}
		msgs, err := tx.MessageLockOfTemplate(ctx, appID, templateID)
		if err != nil {
			return err
		}
		ids = messageIDs(msgs)
		return end(ctx, tx, e, msgs, wxnotify.MessageFailed, func(*store.Message) string { return reason }, now)
	})
	if err != nil {
		return nil, fmt.Errorf("fail messages of template %s: %w", templateID, err)
	}
	return ids, nil
}

// endAll repeats lock-and-end transactions of at most Batch messages until
// a lock returns fewer.
func (q *Queue) endAll(ctx context.Context, what string, now time.Time,
	lock func(context.Context, store.Executor, time.Time) ([]*store.Message, error),
	state wxnotify.MessageState, lastError func(*store.Message) string) ([]int64, error) {
	ids := []int64{}
	for {
		var n int
		err := q.inTx(ctx, func(tx store.Executor, e *ended) error {
			now, err := clock(ctx, tx, now)
			if err != nil {
				return err
			}
			msgs, err := lock(ctx, tx, now)
			if err != nil {
				return err
			}
			n = len(msgs)
			if err := end(ctx, tx, e, msgs, state, lastError, now); err != nil {
				return err
			}
			ids = append(ids, messageIDs(msgs)...)
			return nil
		})
		if err != nil {
			return ids, fmt.Errorf("%s: %w", what, err)
		}
		if n < q.batch() {
			return ids, nil
		}
	}
}

func messageIDs(msgs []*store.Message) []int64 {
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	return ids
}

// Recover moves messages whose lease expired at or before now (zero: the
// database's clock) out of sending: to ambiguous, since their holder may
// have called WeChat before it died — unless a stored
// subscribe_msg_sent_event settles them at once (see ResolveAmbiguous).
// Their credits stay spent. Returns the ids moved, in order, and how many
// a sent event settled.
func (q *Queue) Recover(ctx context.Context, now time.Time) ([]int64, int, error) {
	ids := []int64{}
	var resolved int
	for {
		var n int
		err := q.inTx(ctx, func(tx store.Executor, e *ended) error {
			now, err := clock(ctx, tx, now)
			if err != nil {
				return err
			}
			msgs, err := tx.MessageLockLeaseExpired(ctx, now, q.batch())
			if err != nil {
				return err
			}
			n = len(msgs)
			if n == 0 {
				return nil
			}
			ups := make([]*store.MessageUpdateParams, len(msgs))
			for i, m := range msgs {
				ups[i] = &store.MessageUpdateParams{ID: m.ID, State: string(wxnotify.MessageAmbiguous),
					LastError: "lease of " + m.ClaimedBy + " expired", Now: now}
			}
			rows, err := tx.MessageUpdateMany(ctx, ups)
			if err != nil {
				return err
			}
			for _, m := range rows {
				if m == nil {
					continue
				}
				ids = append(ids, m.ID)
				settled, err := resolve(ctx, tx, m, now)
				if err != nil {
					return err
				}
				if settled != nil {
					m = settled
					resolved++
				}
				e.add(m, nil)
			}
			return e.record(ctx, tx, now)
		})
		if err != nil {
			return ids, resolved, fmt.Errorf("recover messages: %w", err)
		}
		if n < q.batch() {
			return ids, resolved, nil
		}
	}
}

// resolve settles an ambiguous subscribe message from WeChat's own record
// (store.Executor.EventFindSent): delivered with the event's msgid when its
// status is success, else failed. Returns the settled row, or nil.
func resolve(ctx context.Context, tx store.Executor, m *store.Message, now time.Time) (*store.Message, error) {
	if m.State != string(wxnotify.MessageAmbiguous) || m.Kind != string(wxnotify.MessageSubscribe) {
		return nil, nil
	}
	ev, err := tx.EventFindSent(ctx, &store.EventFindSentParams{MessageID: m.ID, Skew: store.ResolveSkew})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("find sent event of message %d: %w", m.ID, err)
	}
	state := wxnotify.MessageFailed
	if ev.Status == "success" {
		state = wxnotify.MessageDelivered
	}
	rows, err := tx.MessageUpdateMany(ctx, []*store.MessageUpdateParams{{
		ID: m.ID, State: string(state), MsgID: ev.MsgID,
		LastError: "resolved by subscribe_msg_sent_event: " + ev.Status, Now: now,
	}})
	if err != nil {
		return nil, err
	}
	return rows[0], nil
}

// ResolveAmbiguous settles an ambiguous subscribe message with WeChat's
// own record: the oldest stored subscribe_msg_sent_event for the message's
// (app, openid, template) whose CreateTime lies between the message's
// creation and the moment it was marked ambiguous (give or take
// store.ResolveSkew), and whose msgid no message holds yet. With status
// "success" the message becomes delivered with that msgid; with any other
// status, failed. Returns the new state, or "" when nothing matched (the
// message stays ambiguous) or it is not ambiguous. now zero is the
// database's clock.
func (q *Queue) ResolveAmbiguous(ctx context.Context, id int64, now time.Time) (string, error) {
	var state string
	err := q.inTx(ctx, func(tx store.Executor, e *ended) error {
		state = ""
		now, err := clock(ctx, tx, now)
		if err != nil {
			return err
		}
		m, err := tx.MessageLock(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		settled, err := resolve(ctx, tx, m, now)
		if err != nil || settled == nil {
			return err
		}
		state = settled.State
		e.add(settled, nil)
		return e.record(ctx, tx, now)
	})
	if err != nil {
		return "", fmt.Errorf("resolve ambiguous message %d: %w", id, err)
	}
	return state, nil
}

// Cancel cancels a queued or waiting_credit message, refunding any credit
// it holds (and dropping it from the message), and records the outcome.
// Returns store.ErrNotFound, or store.ErrConflict when the message is
// sending or terminal, with the current row. now zero is the database's
// clock.
func (q *Queue) Cancel(ctx context.Context, id int64, now time.Time) (*store.Message, error) {
	var row *store.Message
	err := q.inTx(ctx, func(tx store.Executor, e *ended) error {
		now, err := clock(ctx, tx, now)
		if err != nil {
			return err
		}
		m, err := tx.MessageLock(ctx, id)
		if err != nil {
			return err
		}
		row = m
		if !CanMove(wxnotify.MessageState(m.State), wxnotify.MessageCancelled) {
			return store.ErrConflict
		}
		if err := end(ctx, tx, e, []*store.Message{m}, wxnotify.MessageCancelled, nil, now); err != nil {
			return err
		}
		row = e.xs[0].Message
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, store.ErrNotFound
	case errors.Is(err, store.ErrConflict):
		return row, store.ErrConflict
	case err != nil:
		return nil, fmt.Errorf("cancel message %d: %w", id, err)
	}
	return row, nil
}

// RetryLastError is the last error of a message an operator retried, until
// its next attempt.
const RetryLastError = "retried by an operator"

// Retry sends a failed, no_credit or expired message again, in one
// transaction: it becomes queued, due at now, with Attempts 0 (the
// max_attempts budget starts again), no credit (its claim reserves a fresh
// one, as for a new message) and, when it had an expiry, a fresh one: its
// original time to live (expires_at − created_at, DefaultMessageTTL if that
// is not positive) from now. Its attempts so far stay in its history, its
// idempotency key and broadcast stay. It writes no outcome: the message
// has not ended. Returns store.ErrNotFound, or store.ErrConflict with the
// current row when its state is not one of those. now zero is the
// database's clock.
func (q *Queue) Retry(ctx context.Context, id int64, now time.Time) (*store.Message, error) {
	var row *store.Message
	err := store.InTx(ctx, q.Store, func(tx store.Executor) error {
		now, err := clock(ctx, tx, now)
		if err != nil {
			return err
		}
		m, err := tx.MessageLock(ctx, id)
		if err != nil {
			return err
		}
		row = m
		st := wxnotify.MessageState(m.State)
		if !st.Retryable() || !CanMove(st, wxnotify.MessageQueued) {
			return store.ErrConflict
		}
		if m.CreditID != 0 {
			// An ended message holds no credit; should one remain, it
			// is given back rather than spent by the new attempt.
			if err := tx.CreditRefund(ctx, m.CreditID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("credit %d: %w", m.CreditID, err)
			}
		}
		var expires time.Time
		if !m.ExpiresAt.IsZero() {
			ttl := m.ExpiresAt.Sub(m.CreatedAt)
			if ttl <= 0 {
				ttl = wxnotify.DefaultMessageTTL
			}
			expires = now.Add(ttl)
		}
		row, err = tx.MessageRequeue(ctx, &store.MessageRequeueParams{
			ID: m.ID, RunAt: now, ExpiresAt: expires, LastError: RetryLastError, Now: now,
		})
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, store.ErrNotFound
	case errors.Is(err, store.ErrConflict):
		return row, store.ErrConflict
	case err != nil:
		return nil, fmt.Errorf("retry message %d: %w", id, err)
	}
	return row, nil
}

// RequeueWaiting moves waiting_credit messages whose user now has a usable
// credit (expiring after cutoff) back to queued, and returns how many.
// Zero now is the database's clock; zero cutoff is now + CreditMargin.
func (q *Queue) RequeueWaiting(ctx context.Context, now, cutoff time.Time) (int64, error) {
	now, err := clock(ctx, q.Store, now)
	if err != nil {
		return 0, err
	}
	if cutoff.IsZero() {
		cutoff = now.Add(q.margin())
	}
	p := &store.MessageRequeueWaitingParams{Now: now, Cutoff: cutoff}
	p.SubscribeKinds, _ = creditKinds(wxnotify.MessageSubscribe)
	p.TemplateKinds, _ = creditKinds(wxnotify.MessageTemplate)
	n, err := q.Store.MessageRequeueWaiting(ctx, p)
	if err != nil {
		return 0, fmt.Errorf("requeue waiting messages: %w", err)
	}
	return n, nil
}

// Clock is the database's clock as an instance estimates it: its own clock
// plus the offset Sync last measured. The queue itself compares times in
// the database; Clock serves the leases kept outside its transactions
// (tokens, schedules, webhook events), so a skewed instance keeps those
// right too. The zero value is the local clock until the first Sync.
type Clock struct {
	// Local is the instance's own clock; nil means time.Now.
	Local func() time.Time

	mu     sync.Mutex
	offset time.Duration // database minus local
}

func (c *Clock) local() time.Time {
	if c.Local != nil {
		return c.Local()
	}
	return time.Now()
}

// Now returns the estimate of the database's clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	off := c.offset
	c.mu.Unlock()
	return c.local().Add(off)
}

// Sync measures the database's clock against the local one and returns the
// skew: how far the local clock is ahead (negative: behind).
func (c *Clock) Sync(ctx context.Context, e store.Executor) (time.Duration, error) {
	before := c.local()
	db, err := e.Now(ctx)
	if err != nil {
		return 0, fmt.Errorf("database clock: %w", err)
	}
	after := c.local()
	skew := before.Add(after.Sub(before) / 2).Sub(db)
	c.mu.Lock()
	c.offset = -skew
	c.mu.Unlock()
	return skew, nil
}

// creditKinds is wxnotify.CreditKindsFor as the store's strings.
func creditKinds(kind wxnotify.MessageKind) ([]string, bool) {
	ks, ofTemplate := wxnotify.CreditKindsFor(kind)
	return wxnotify.CreditKindNames(ks), ofTemplate
}
