package store

import (
	"context"
	"log/slog"
	"time"
)

// Driver is an open database with its schema migrated: an Executor on the
// connection pool, from which transactions begin. One package per engine
// implements it (store/sqlite, store/postgres) and runs the conformance
// suite (store/storetest.Exercise).
type Driver interface {
	Executor
	// Capabilities says what the engine can do, so callers never branch
	// on its name.
	Capabilities() Capabilities
	// Engine names the engine ("sqlite", "postgres"), for logs only.
	Engine() string
	// Migrate applies every pending migration embedded in the driver.
	// Open does this too; the wxnotify migrate command calls it alone.
	Migrate(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// Capabilities are what callers may rely on of an engine.
type Capabilities struct {
	// SingleWriter: every write goes through one connection, so several
	// write transactions at once only queue; batch them instead (SQLite).
	SingleWriter bool
	// SharedByInstances: several wxnotify processes may use the database
	// at once, each with its own clock (PostgreSQL).
	SharedByInstances bool
}

// Executor is every storage operation, on the pool (each method atomic on
// its own) or in a transaction (ExecutorTx). Methods are noun-first, so
// related ones sort together, and take one *Params struct where they need
// more than a key.
type Executor interface {
	// Begin starts a transaction; on a transaction it starts a nested one
	// (a savepoint). End it with Commit or Rollback.
	Begin(ctx context.Context) (ExecutorTx, error)
	// Now is the database's clock: PostgreSQL's now() (the start of the
	// transaction, when in one), so that instances with skewed clocks agree
	// on due times, leases and expiry; on SQLite, which one process owns,
	// the driver's own clock (sqlite.Options.Now, default time.Now).
	Now(ctx context.Context) (time.Time, error)

	// AppInsert stores a new app. Returns ErrConflict if the appid exists.
	AppInsert(ctx context.Context, p *AppInsertParams) error
	// AppGet returns one app with its encrypted secret, or ErrNotFound.
	AppGet(ctx context.Context, appID string) (*App, error)
	// AppList returns every app ordered by appid.
	AppList(ctx context.Context) ([]*App, error)
	// AppDelete removes an app and its token row, or returns ErrNotFound.
	AppDelete(ctx context.Context, appID string) error

	// TokenGet returns the app's token row, or ErrNotFound if the app has
	// never had a token or lease.
	TokenGet(ctx context.Context, appID string) (*Token, error)
	// TokenLeaseAcquire takes the app's refresh lease for Holder until
	// Until, creating the token row if needed. It succeeds (true) if nobody
	// holds the lease, the lease expired before Now, or Holder holds it
	// already; otherwise it returns false and changes nothing. Two callers
	// can never both get true for overlapping leases. Returns ErrNotFound if
	// the app does not exist, and an error if p.Validate fails.
	TokenLeaseAcquire(ctx context.Context, p *TokenLeaseAcquireParams) (bool, error)
	// TokenLeaseRelease gives up Holder's lease; a no-op if Holder does not
	// hold it.
	TokenLeaseRelease(ctx context.Context, appID, holder string) error
	// TokenSave stores a newly fetched token, only if Holder still holds the
	// lease at Now (returns false otherwise and changes nothing). It bumps
	// Generation and Fetches and clears the last error (LastError,
	// LastErrorAt and RetryAt). It does not release the lease.
	TokenSave(ctx context.Context, p *TokenSaveParams) (bool, error)
	// TokenSaveError records a failed refresh (message without secrets) and
	// when the next attempt may be made. Only if Holder holds the lease at
	// Now; otherwise it changes nothing and returns nil.
	TokenSaveError(ctx context.Context, p *TokenSaveErrorParams) error

	// Credits (ledger)

	// CreditInsertBatch stores new credits, all or none, and returns how
	// many were new: a credit whose (AppID, Kind, Value) exists already (or
	// appears earlier in the batch) is skipped. Credits with an empty Value
	// (subscribe kinds) are never duplicates. Returns ErrNotFound if an app
	// does not exist, and an error if a credit fails Validate. Credits,
	// subscribe counters and events go with AppDelete.
	CreditInsertBatch(ctx context.Context, credits []*CreditInsertParams) (int, error)
	// CreditGet returns one credit, or ErrNotFound.
	CreditGet(ctx context.Context, id int64) (*Credit, error)
	// CreditSpend takes one use of the user's oldest usable credit (by
	// ObtainedAt, then ID) of the first kind in p.Kinds that has one, for
	// p.TemplateID exactly, and returns the credit as it is after the spend
	// (UseNumber tells which use was taken). Usable: UsesLeft > 0, not
	// dead, ExpiresAt zero or after p.Cutoff. Kind "long_term" is returned
	// without being decremented. Concurrent callers, on any number of
	// Stores, never take the same use, and get ErrNotFound only when the
	// user has no usable credit. Returns an error if p.Validate fails.
	CreditSpend(ctx context.Context, p *CreditSpendParams) (*Credit, error)
	// CreditRefund gives back one use of a credit; a credit that has all
	// its Uses stays as it is. Returns ErrNotFound if the credit does not
	// exist (or was purged).
	CreditRefund(ctx context.Context, id int64) error
	// CreditKill marks a credit dead with reason; it is never spent again.
	// Killing a dead credit keeps the first reason. Returns ErrNotFound if
	// the credit does not exist.
	CreditKill(ctx context.Context, id int64, reason string) error
	// CreditKillTemplate kills every usable credit of the user (of every
	// user when p.OpenID is empty) for the template and returns how many. Returns an error if p.Validate fails.
	CreditKillTemplate(ctx context.Context, p *CreditKillTemplateParams) (int64, error)
	// CreditPurge deletes credits that are expired, dead, or used up (see
	// CreditPurgeParams), and returns how many.
	CreditPurge(ctx context.Context, p *CreditPurgeParams) (int64, error)
	// CreditStocks counts usable credits and uses per (app, kind, template),
	// and per user when p.OpenID is set, ordered by those keys.
	CreditStocks(ctx context.Context, p *CreditStocksParams) ([]*CreditStock, error)
	// SubscribeChoiceAdd adds p.Count to the app's counter of p.Choice for
	// the template.
	SubscribeChoiceAdd(ctx context.Context, p *SubscribeChoiceAddParams) error
	// EventInsert stores a pushed event and returns true, or returns false
	// and changes nothing if the same event (app, type, openid, template,
	// CreateTime, MsgID) is stored already: WeChat repeats a push it got no
	// timely answer to. Returns ErrNotFound if the app does not exist.
	EventInsert(ctx context.Context, e *Event) (bool, error)
	// EventListByMsgID returns the app's events with that msgid (sent
	// events), oldest first.
	EventListByMsgID(ctx context.Context, appID, msgID string) ([]*Event, error)

	// APIKeyInsert stores a new API key. Returns ErrConflict if the id exists.
	APIKeyInsert(ctx context.Context, k *APIKey) error
	// APIKeyGet returns one key, or ErrNotFound.
	APIKeyGet(ctx context.Context, id string) (*APIKey, error)
	// APIKeyList returns every key, oldest first.
	APIKeyList(ctx context.Context) ([]*APIKey, error)
	// APIKeyDelete removes a key, or returns ErrNotFound.
	APIKeyDelete(ctx context.Context, id string) error

	// Sessions (mini program)

	// SessionInsert stores a new mini-program session. Returns ErrNotFound
	// if the app does not exist, ErrConflict if the token hash exists, and
	// an error if p.Validate fails.
	SessionInsert(ctx context.Context, p *SessionInsertParams) error
	// SessionGet returns the session whose token hashes to tokenHash, or
	// ErrNotFound. It returns expired sessions too: the caller compares
	// ExpiresAt with its clock.
	SessionGet(ctx context.Context, tokenHash []byte) (*Session, error)
	// SessionDeleteExpired deletes every session with ExpiresAt <= now and
	// returns how many.
	SessionDeleteExpired(ctx context.Context, now time.Time) (int64, error)
	// AppCallbackSet creates or replaces the app's push configuration.
	// Returns ErrNotFound if the app does not exist.
	AppCallbackSet(ctx context.Context, c *AppCallback) error
	// AppCallbackGet returns the app's push configuration, or ErrNotFound
	// if none is set (or the app does not exist).
	AppCallbackGet(ctx context.Context, appID string) (*AppCallback, error)
	// AppCallbackDelete removes the app's push configuration, or returns
	// ErrNotFound. Sessions and callback rows also go with AppDelete.
	AppCallbackDelete(ctx context.Context, appID string) error

	// Templates (the catalog)

	// TemplateSync makes the app's templates of p.Kind match p.Templates in
	// one transaction: each listed template is inserted, or updated (title,
	// content, keywords, type, SyncedAt = Now, deleted cleared) keeping its
	// Truncate policy; every other template of the app and kind that is not
	// deleted yet is marked deleted (DeletedAt = Now). It returns the ids
	// added (new, or no longer deleted) and removed (newly deleted), each in
	// id order. Returns ErrNotFound if the app does not exist, and an error
	// if p.Validate fails.
	TemplateSync(ctx context.Context, p *TemplateSyncParams) (*TemplateSyncResult, error)
	// TemplateUpsert inserts or updates one template (as TemplateSync does
	// for a listed one) without touching the others. Returns ErrNotFound if
	// the app does not exist, and an error if p.Validate fails.
	TemplateUpsert(ctx context.Context, appID string, t *Template, now time.Time) error
	// TemplateGet returns one template, deleted or not, or ErrNotFound.
	TemplateGet(ctx context.Context, appID, templateID string) (*Template, error)
	// TemplateList returns the app's templates, deleted ones included,
	// ordered by template id.
	TemplateList(ctx context.Context, appID string) ([]*Template, error)
	// TemplateMarkDeleted marks one template deleted at now and reports
	// whether it changed (false: deleted already). Returns ErrNotFound.
	TemplateMarkDeleted(ctx context.Context, appID, templateID string, now time.Time) (bool, error)
	// TemplateSetTruncate replaces the template's truncation policy (a JSON
	// array of keys; nil stores []). Returns ErrNotFound.
	TemplateSetTruncate(ctx context.Context, appID, templateID string, keys []byte) error

	// TemplateAliasSet points the app's alias at templateID, creating or
	// replacing it. Returns ErrNotFound if the template is not in the
	// catalog.
	TemplateAliasSet(ctx context.Context, a *TemplateAlias) error
	// TemplateAliasDelete removes an alias, or returns ErrNotFound.
	TemplateAliasDelete(ctx context.Context, appID, alias string) error
	// TemplateAliasList returns the app's aliases ordered by alias.
	TemplateAliasList(ctx context.Context, appID string) ([]*TemplateAlias, error)

	// Broadcasts, schedules, webhooks and the webhook outbox

	// BroadcastInsert stores a new broadcast in state "accepting" and
	// returns its id. Returns ErrNotFound if the app does not exist.
	BroadcastInsert(ctx context.Context, p *BroadcastInsertParams) (int64, error)
	// BroadcastFinish moves an accepting broadcast to p.State (accepted or
	// aborted) with its counts. Returns ErrNotFound if there is none, and
	// ErrConflict (changing nothing) if it is not accepting.
	BroadcastFinish(ctx context.Context, p *BroadcastFinishParams) error
	// BroadcastAbortStale ends broadcasts still "accepting" that were
	// created before `before` — their upload was cut by a crash — as
	// "aborted", with Accepted set to the messages actually stored for them
	// (which are delivered normally) and Error saying what happened.
	// Returns how many it ended.
	BroadcastAbortStale(ctx context.Context, before, now time.Time) (int64, error)
	// BroadcastGet returns one broadcast, or ErrNotFound.
	BroadcastGet(ctx context.Context, id int64) (*Broadcast, error)
	// BroadcastGetByKey returns the app's broadcast stored under an
	// idempotency key, or ErrNotFound.
	BroadcastGetByKey(ctx context.Context, appID, key string) (*Broadcast, error)
	// BroadcastList returns up to p.Limit broadcasts of p.AppIDs (nil: of
	// every app) in p.State ("" any), with ids below p.BeforeID (0: any),
	// newest first. Returns an error if p.Validate fails.
	BroadcastList(ctx context.Context, p *BroadcastListParams) ([]*Broadcast, error)
	// BroadcastFinishDone moves every accepted broadcast none of whose
	// messages is queued, waiting_credit or sending to "finished", with
	// Counts set to its messages by state and FinishedAt to now, and
	// returns their ids in order. Aborted broadcasts keep their state.
	BroadcastFinishDone(ctx context.Context, now time.Time) ([]int64, error)

	// ScheduleInsert stores a new schedule and returns its id. Returns
	// ErrNotFound if the app does not exist. Schedules go with AppDelete.
	ScheduleInsert(ctx context.Context, p *ScheduleInsertParams) (int64, error)
	// ScheduleGet returns one schedule, or ErrNotFound.
	ScheduleGet(ctx context.Context, id int64) (*Schedule, error)
	// ScheduleList returns the schedules of p.AppIDs (nil: of every app)
	// ordered by id.
	ScheduleList(ctx context.Context, p *ScheduleListParams) ([]*Schedule, error)
	// ScheduleSetState sets a schedule's state and, when p.NextRunAt is not
	// zero, its next occurrence, and returns the row as it is after.
	// Returns ErrNotFound.
	ScheduleSetState(ctx context.Context, p *ScheduleSetStateParams) (*Schedule, error)
	// ScheduleDelete removes a schedule, or returns ErrNotFound.
	ScheduleDelete(ctx context.Context, id int64) error
	// ScheduleClaimDue claims up to p.Limit active schedules whose
	// NextRunAt <= p.Now and whose lease is free or expired (LeaseUntil <=
	// Now), earliest NextRunAt first, for p.Holder until p.LeaseUntil, and
	// returns them (NextRunAt is the occurrence to fire). Concurrent
	// claimers on any number of Stores never get the same schedule while a
	// lease holds (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: one writer).
	ScheduleClaimDue(ctx context.Context, p *ScheduleClaimDueParams) ([]*Schedule, error)
	// ScheduleAdvance records that p.Occurrence was fired: LastRunAt =
	// Occurrence, NextRunAt = p.NextRunAt, lease released; only if p.Holder
	// still holds the lease and NextRunAt still equals p.Occurrence.
	// Returns false, changing nothing, otherwise.
	ScheduleAdvance(ctx context.Context, p *ScheduleAdvanceParams) (bool, error)

	// WebhookInsert stores a new webhook and returns its id. Returns
	// ErrNotFound if the app does not exist. Webhooks go with AppDelete.
	WebhookInsert(ctx context.Context, p *WebhookInsertParams) (int64, error)
	// WebhookGet returns one webhook, or ErrNotFound.
	WebhookGet(ctx context.Context, id int64) (*Webhook, error)
	// WebhookList returns the webhooks of p.AppIDs (nil: of every app)
	// ordered by id.
	WebhookList(ctx context.Context, p *WebhookListParams) ([]*Webhook, error)
	// WebhookDelete removes a webhook and its outbox rows, or returns
	// ErrNotFound.
	WebhookDelete(ctx context.Context, id int64) error

	// WebhookOutboxInsertMany stores events in one transaction: each
	// becomes one pending outbox row per webhook of its app at that moment
	// (URL and sealed secret copied), due at its Now. Events of apps with
	// no webhook store nothing. Returns the rows stored.
	WebhookOutboxInsertMany(ctx context.Context, ps []*WebhookOutboxInsertParams) (int64, error)
	// WebhookOutboxClaim claims up to p.Limit pending rows due at p.Now
	// (NextAttemptAt <= Now) whose lease is free or expired, oldest due
	// first, for p.Holder until p.LeaseUntil, incrementing Attempts.
	// Concurrent claimers never get the same row while a lease holds.
	WebhookOutboxClaim(ctx context.Context, p *WebhookOutboxClaimParams) ([]*WebhookOutbox, error)
	// WebhookOutboxFinish records one attempt of a claimed row, only if
	// p.Holder still holds it (returns false otherwise): Delivered deletes
	// the row; Dead keeps it as "dead", never claimed again; otherwise it
	// is due again at NextAttemptAt. The lease is released.
	WebhookOutboxFinish(ctx context.Context, p *WebhookOutboxFinishParams) (bool, error)
	// WebhookOutboxList returns up to p.Limit outbox rows of one webhook
	// in p.State ("" any), with ids below p.BeforeID (0: any), newest
	// first. Returns an error if p.Validate fails.
	WebhookOutboxList(ctx context.Context, p *WebhookOutboxListParams) ([]*WebhookOutbox, error)
	// WebhookOutboxReplay makes the webhook's dead rows (those of p.IDs;
	// nil: all of them) pending again, due at p.Now with Attempts 0 and
	// LastError kept, and returns how many. Rows that are not dead or not
	// the webhook's are left alone.
	WebhookOutboxReplay(ctx context.Context, p *WebhookOutboxReplayParams) (int64, error)
	// WebhookOutboxCounts counts outbox rows per state ("pending", "dead")
	// of one webhook, or of all when webhookID is 0.
	WebhookOutboxCounts(ctx context.Context, webhookID int64) (map[string]int64, error)

	// Messages (the delivery queue: the message table is the queue,
	// docs/decisions.md). These are the queue's primitive operations; its
	// rules (which credit a message spends, which state it moves to, what
	// an outcome writes) live once in package queue, which composes them in
	// transactions. Every Lock method locks the rows it returns until the
	// transaction ends (PostgreSQL: FOR UPDATE; SQLite: the one writer), so
	// call them in a transaction.

	// MessageInsertMany stores accepted messages, all or none (the group
	// commit of docs/decisions.md). A message whose (AppID,
	// IdempotencyKey) exists already — in the table or earlier in the batch
	// — is not stored: its result carries the existing id and
	// Created=false. Results are in the order of ps. Messages without an
	// IdempotencyKey are always stored. Returns an error, storing nothing,
	// if a message fails Validate.
	MessageInsertMany(ctx context.Context, ps []*MessageInsertParams) ([]MessageInsertResult, error)
	// MessageAnyDue reports whether some message is queued and due at now:
	// a cheap read that lets an idle claimer skip the write transaction.
	MessageAnyDue(ctx context.Context, now time.Time) (bool, error)
	// MessageLockDue returns up to p.Limit queued messages due at p.Now
	// (run_at <= Now, expires_at zero or after Now), oldest run_at (then
	// id) first, and locks them. On PostgreSQL rows locked by a concurrent
	// transaction are skipped (SKIP LOCKED), so concurrent claimers take
	// different messages.
	MessageLockDue(ctx context.Context, p *MessageLockDueParams) ([]*Message, error)
	// MessageLockExpired returns up to limit queued or waiting_credit
	// messages whose expires_at is at or before now, in id order, locked.
	MessageLockExpired(ctx context.Context, now time.Time, limit int) ([]*Message, error)
	// MessageLockLeaseExpired returns up to limit sending messages whose
	// lease ended at or before now, in id order, locked.
	MessageLockLeaseExpired(ctx context.Context, now time.Time, limit int) ([]*Message, error)
	// MessageLockOfTemplate returns the app's queued and waiting_credit
	// messages of templateID, in id order, locked.
	MessageLockOfTemplate(ctx context.Context, appID, templateID string) ([]*Message, error)
	// MessageLock returns one message, locked, or ErrNotFound.
	MessageLock(ctx context.Context, id int64) (*Message, error)
	// MessageClaimMany hands messages to p.Holder until p.LeaseUntil: each
	// becomes sending, with Attempts incremented and the claim's credit
	// (when CreditID is not 0) recorded. The caller has locked them.
	MessageClaimMany(ctx context.Context, p *MessageClaimManyParams) error
	// MessageUpdateMany applies each p: sets State, LastError, RunAt (when
	// not zero), MsgID (when not empty), drops the credit when DropCredit,
	// and always clears the claim (holder and lease). When p.Holder is set
	// it applies only if the message is sending and claimed by Holder;
	// otherwise it applies unconditionally (the caller has locked the row).
	// An ID repeated in ps applies once, for its first occurrence. Returns,
	// in the order of ps, each message as it is after the update, or nil
	// where it did not apply; CreditID and CreditValue in a returned row are
	// the credit it held before DropCredit, so the caller knows which
	// credit to kill or refund. Returns an error, changing nothing, if an
	// element fails Validate.
	MessageUpdateMany(ctx context.Context, ps []*MessageUpdateParams) ([]*Message, error)
	// MessageRequeue makes one message queued again, unconditionally (the
	// caller has locked it and checked its state): due at p.RunAt, expiring
	// at p.ExpiresAt, Attempts 0, no credit, no claim, LastError set. Its
	// attempts stay. Returns the row as it is after, or ErrNotFound.
	MessageRequeue(ctx context.Context, p *MessageRequeueParams) (*Message, error)
	// MessageRequeueWaiting moves waiting_credit messages whose user now
	// has a usable credit to queued, and returns how many. A credit is
	// usable for a message as for CreditReserveMany: p.SubscribeKinds of
	// the message's template for subscribe messages, p.TemplateKinds of
	// any template for legacy ones, expiring after p.Cutoff.
	MessageRequeueWaiting(ctx context.Context, p *MessageRequeueWaitingParams) (int64, error)
	// MessageNextDue returns the earliest due time of a queued message that
	// has not expired at now (zero: none), so an idle claimer can sleep
	// until then.
	MessageNextDue(ctx context.Context, now time.Time) (time.Time, error)
	// RateTake refills the bucket p.Key at p.Rate a second (up to p.Burst)
	// since its last use, on the database's clock, and takes up to p.Want
	// whole tokens from it, atomically across instances.
	RateTake(ctx context.Context, p *RateTakeParams) (RateTaken, error)
	// SeenAdd records key until expires and reports true, or false when key
	// was recorded before and has not expired at now: one answer for every
	// instance (a replay guard).
	SeenAdd(ctx context.Context, key string, now, expires time.Time) (bool, error)
	// SeenRemove forgets key (its first sighting could not be handled).
	SeenRemove(ctx context.Context, key string) error
	// SeenPurge deletes the keys expired at now.
	SeenPurge(ctx context.Context, now time.Time) (int64, error)
	// DailySendAdd adds each d.Sent to the counter of (AppID, Day, Kind),
	// creating it; a counter of an app that does not exist is ErrNotFound.
	DailySendAdd(ctx context.Context, ds []*DailySend) error
	// DailySendList returns the counters of day, by app and kind.
	DailySendList(ctx context.Context, day string) ([]*DailySend, error)
	// AttemptInsertMany stores calls to WeChat, all or none. Attempts with
	// N 0 are numbered after the message's last, in order, and their N set;
	// a call gives a message numbered attempts or numbers of its own, not
	// both.
	AttemptInsertMany(ctx context.Context, as []*Attempt) error

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

	// Audit log and the dashboard's history

	// AuditInsert stores an audit entry and returns its id. Returns an
	// error if e.Validate fails.
	AuditInsert(ctx context.Context, e *AuditEntry) (int64, error)
	// AuditList lists entries by id descending within the filter.
	AuditList(ctx context.Context, p *AuditListParams) ([]*AuditEntry, error)

	// HistoryCountOutcomes counts terminal messages (delivered, failed,
	// no_credit, expired, cancelled, ambiguous) whose updated_at lies in
	// [from, to), per minute (UTC, truncated) and state (Key), ordered by
	// minute then state.
	HistoryCountOutcomes(ctx context.Context, from, to time.Time) ([]*HistoryCount, error)
	// HistoryCountErrcodes counts attempts with a non-zero errcode whose
	// time lies in [from, to), per minute and errcode (Key, in decimal),
	// ordered by minute then errcode.
	HistoryCountErrcodes(ctx context.Context, from, to time.Time) ([]*HistoryCount, error)
	// HistoryUpsertMany stores points, replacing the value of a point that
	// exists (same Resolution, Series, Bucket, Key). Returns an error,
	// storing nothing, if a point fails Validate.
	HistoryUpsertMany(ctx context.Context, ps []*HistoryPoint) error
	// HistoryDelete deletes the points of p's series in [From, To) (From
	// zero: from the first) and returns how many.
	HistoryDelete(ctx context.Context, p *HistoryRangeParams) (int64, error)
	// HistoryList returns the points of p's series in [From, To), ordered
	// by bucket, series, key.
	HistoryList(ctx context.Context, p *HistoryRangeParams) ([]*HistoryPoint, error)

	// CreditReserveMany takes one use of a credit for each p, in order, so
	// that each sees the uses taken before it: the oldest usable credit (by
	// kind in the order of p.Kinds, then ObtainedAt, then ID) of the user,
	// for p.TemplateID exactly, as CreditSpend picks it. The results are
	// in the order of ps; an empty result (ID 0) took nothing, and its Busy
	// says whether a usable credit exists all the same, locked by a
	// concurrent transaction (PostgreSQL only): the caller should then try
	// again later rather than call the user credit-less.
	CreditReserveMany(ctx context.Context, ps []*CreditReserveParams) ([]CreditReserved, error)
	// EventFindSent returns the sent event that may be WeChat's record of
	// an ambiguous subscribe message: the oldest subscribe_msg_sent_event
	// of the message's (app, openid, template) whose CreateTime lies
	// between the message's creation and its last update (give or take
	// p.Skew) and whose msgid no message holds yet. Returns ErrNotFound
	// when there is none.
	EventFindSent(ctx context.Context, p *EventFindSentParams) (*Event, error)
}

// ExecutorTx is an Executor in a transaction.
type ExecutorTx interface {
	Executor
	// Commit makes the transaction's writes durable and visible.
	Commit(ctx context.Context) error
	// Rollback discards them; after Commit it is a no-op returning nil, so
	// it can be deferred.
	Rollback(ctx context.Context) error
}

// InTx runs fn in a transaction begun on e and commits it, or rolls it back
// when fn returns an error (which InTx returns) or panics.
func InTx(ctx context.Context, e Executor, fn func(tx Executor) error) (err error) {
	tx, err := e.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			tx.Rollback(context.WithoutCancel(ctx))
			panic(r)
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// DueListener is implemented by drivers whose instances share a database and
// can tell each other that messages were stored (PostgreSQL LISTEN/NOTIFY):
// an accept on one instance is claimed by another at once, not at its next
// poll.
type DueListener interface {
	// ListenDue calls wake whenever an instance stored due messages, until
	// ctx ends. It reconnects by itself, logging the break and calling wake
	// after each reconnect (a notification may have been missed meanwhile);
	// polling stays the fallback.
	ListenDue(ctx context.Context, wake func(), logger *slog.Logger) error
}
