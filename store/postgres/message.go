package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/wxnotify/wxnotify/store"
)

var (
	queryMessageInsert           = queries.MustGet("MessageInsertMany")
	queryMessageIDsByKey         = queries.MustGet("MessageIDsByKey")
	queryMessageAnyDue           = queries.MustGet("MessageAnyDue")
	queryMessageNextDue          = queries.MustGet("MessageNextDue")
	queryMessageLockDue          = queries.MustGet("MessageLockDue")
	queryMessageLockExpired      = queries.MustGet("MessageLockExpired")
	queryMessageLockLeaseExpired = queries.MustGet("MessageLockLeaseExpired")
	queryMessageLockOfTemplate   = queries.MustGet("MessageLockOfTemplate")
	queryMessageLock             = queries.MustGet("MessageLock")
	queryMessageClaimMany        = queries.MustGet("MessageClaimMany")
	queryMessageUpdateMany       = queries.MustGet("MessageUpdateMany")
	queryMessageRequeueWaiting   = queries.MustGet("MessageRequeueWaiting")
	queryAttemptInsertMany       = queries.MustGet("AttemptInsertMany")
	queryMessageGet              = queries.MustGet("MessageGet")
	queryAttemptList             = queries.MustGet("AttemptList")
	queryMessagePurge            = queries.MustGet("MessagePurge")
	queryMessageListSelect       = queries.MustGet("MessageListSelect")
	queryMessageCountSelect      = queries.MustGet("MessageCountSelect")
	queryMessageWhereApps        = queries.MustGet("MessageWhereApps")
	queryMessageWhereApp         = queries.MustGet("MessageWhereApp")
	queryMessageWhereOpenID      = queries.MustGet("MessageWhereOpenID")
	queryMessageWhereState       = queries.MustGet("MessageWhereState")
	queryMessageWhereBcast       = queries.MustGet("MessageWhereBroadcast")
	queryMessageWhereBefore      = queries.MustGet("MessageWhereBefore")
	queryMessageListOrder        = queries.MustGet("MessageListOrder")
	queryMessageCountGroup       = queries.MustGet("MessageCountGroup")
)

// defaultListLimit is MessageListParams.Limit when unset.
const defaultListLimit = 100

// MessageInsertMany implements store.Executor: one statement for the
// batch, and one more for the keys that were taken, in one transaction (on
// the pool its own; in a transaction that one).
func (e *executor) MessageInsertMany(ctx context.Context, ps []*store.MessageInsertParams) ([]store.MessageInsertResult, error) {
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			return nil, err
		}
	}
	if len(ps) == 0 {
		return []store.MessageInsertResult{}, nil
	}
	n := len(ps)
	var (
		appIDs, openIDs, kinds, templates = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		data, pages, states, langs        = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		emphasis                          = make([]string, n)
		runAt, expiresAt, now             = make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
		wait                              = make([]bool, n)
		keys                              = make([]pgtype.Text, n)
		broadcasts, schedules             = make([]pgtype.Int8, n), make([]pgtype.Int8, n)
	)
	for i, p := range ps {
		appIDs[i], openIDs[i], kinds[i], templates[i] = p.AppID, p.OpenID, p.Kind, p.TemplateID
		data[i] = string(p.Data)
		if len(p.Data) == 0 {
			data[i] = "{}"
		}
		pages[i], states[i], langs[i], emphasis[i] = p.Page, p.MiniprogramState, p.Lang, p.EmphasisKeyword
		runAt[i], expiresAt[i], now[i] = timestamptz(p.RunAt), timestamptz(p.ExpiresAt), timestamptz(p.Now)
		wait[i] = p.WaitForCredit
		keys[i] = pgtype.Text{String: p.IdempotencyKey, Valid: p.IdempotencyKey != ""}
		broadcasts[i] = pgtype.Int8{Int64: p.BroadcastID, Valid: p.BroadcastID != 0}
		schedules[i] = pgtype.Int8{Int64: p.ScheduleID, Valid: p.ScheduleID != 0}
	}
	res := make([]store.MessageInsertResult, n)
	err := e.atomic(ctx, "insert messages", func(q querier) error {
		rows, err := q.Query(ctx, queryMessageInsert, appIDs, openIDs, kinds, templates, data, pages, states,
			langs, emphasis, runAt, expiresAt, wait, keys, broadcasts, schedules, now)
		if err != nil {
			return fmt.Errorf("insert messages: %w", err)
		}
		var taken []int32 // indexes into ps whose key conflicted
		for rows.Next() {
			var (
				ord      int64
				id       int64
				inserted bool
			)
			if err := rows.Scan(&ord, &id, &inserted); err != nil {
				rows.Close()
				return fmt.Errorf("insert messages: %w", err)
			}
			i := ord - 1
			if inserted {
				res[i] = store.MessageInsertResult{ID: id, Created: true}
			} else {
				taken = append(taken, int32(i))
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("insert messages: %w", err)
		}
		if len(taken) > 0 {
			if err := lookupKeys(ctx, q, ps, taken, res); err != nil {
				return fmt.Errorf("insert messages: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// lookupKeys fills res[i] for each index i of ps whose key was taken.
func lookupKeys(ctx context.Context, q querier, ps []*store.MessageInsertParams, taken []int32, res []store.MessageInsertResult) error {
	appIDs, keys := make([]string, len(taken)), make([]string, len(taken))
	for j, i := range taken {
		appIDs[j], keys[j] = ps[i].AppID, ps[i].IdempotencyKey
	}
	rows, err := q.Query(ctx, queryMessageIDsByKey, taken, appIDs, keys)
	if err != nil {
		return err
	}
	defer rows.Close()
	found := 0
	for rows.Next() {
		var (
			i  int32
			id int64
		)
		if err := rows.Scan(&i, &id); err != nil {
			return err
		}
		res[i] = store.MessageInsertResult{ID: id}
		found++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if found != len(taken) {
		// A row that is neither inserted nor holding its key: only a
		// message without a key could be, and those never conflict.
		return fmt.Errorf("%d of %d conflicting keys not found", len(taken)-found, len(taken))
	}
	return nil
}

// MessageAnyDue implements store.Executor.
func (e *executor) MessageAnyDue(ctx context.Context, now time.Time) (bool, error) {
	var due bool
	if err := e.q.QueryRow(ctx, queryMessageAnyDue, timeArg(now)).Scan(&due); err != nil {
		return false, fmt.Errorf("any due message: %w", err)
	}
	return due, nil
}

// MessageNextDue implements store.Executor.
func (e *executor) MessageNextDue(ctx context.Context, now time.Time) (time.Time, error) {
	var next *time.Time
	if err := e.q.QueryRow(ctx, queryMessageNextDue, timeArg(now)).Scan(&next); err != nil {
		return time.Time{}, fmt.Errorf("next due message: %w", err)
	}
	return timeValue(next), nil
}

// MessageLockDue implements store.Executor (FOR UPDATE SKIP LOCKED).
func (e *executor) MessageLockDue(ctx context.Context, p *store.MessageLockDueParams) ([]*store.Message, error) {
	if p.Limit <= 0 {
		return []*store.Message{}, nil
	}
	return e.lockMessages(ctx, "lock due messages", queryMessageLockDue, timeArg(p.Now), p.Limit)
}

// MessageLockExpired implements store.Executor (FOR UPDATE SKIP LOCKED).
func (e *executor) MessageLockExpired(ctx context.Context, now time.Time, limit int) ([]*store.Message, error) {
	if limit <= 0 {
		return []*store.Message{}, nil
	}
	return e.lockMessages(ctx, "lock expired messages", queryMessageLockExpired, timeArg(now), limit)
}

// MessageLockLeaseExpired implements store.Executor (FOR UPDATE SKIP
// LOCKED).
func (e *executor) MessageLockLeaseExpired(ctx context.Context, now time.Time, limit int) ([]*store.Message, error) {
	if limit <= 0 {
		return []*store.Message{}, nil
	}
	return e.lockMessages(ctx, "lock messages of expired leases", queryMessageLockLeaseExpired, timeArg(now), limit)
}

// MessageLockOfTemplate implements store.Executor (FOR UPDATE SKIP
// LOCKED).
func (e *executor) MessageLockOfTemplate(ctx context.Context, appID, templateID string) ([]*store.Message, error) {
	return e.lockMessages(ctx, "lock messages of template", queryMessageLockOfTemplate, appID, templateID)
}

// lockMessages runs one of the Lock queries that return many messages.
func (e *executor) lockMessages(ctx context.Context, what, query string, args ...any) ([]*store.Message, error) {
	rows, err := e.q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return msgs, nil
}

// MessageLock implements store.Executor (FOR UPDATE: it waits for a
// transaction that holds the row).
func (e *executor) MessageLock(ctx context.Context, id int64) (*store.Message, error) {
	m, err := scanMessage(e.q.QueryRow(ctx, queryMessageLock, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("lock message: %w", err)
	}
	return m, nil
}

// MessageClaimMany implements store.Executor in one statement.
func (e *executor) MessageClaimMany(ctx context.Context, p *store.MessageClaimManyParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if len(p.Claims) == 0 {
		return nil
	}
	n := len(p.Claims)
	var (
		ids       = make([]int64, n)
		creditIDs = make([]pgtype.Int8, n)
		values    = make([]string, n)
	)
	for i, c := range p.Claims {
		ids[i] = c.ID
		creditIDs[i] = pgtype.Int8{Int64: c.CreditID, Valid: c.CreditID != 0}
		values[i] = c.CreditValue
	}
	if _, err := e.q.Exec(ctx, queryMessageClaimMany, p.Holder, timeArg(p.LeaseUntil), timeArg(p.Now),
		ids, creditIDs, values); err != nil {
		return fmt.Errorf("claim messages: %w", err)
	}
	return nil
}

// MessageUpdateMany implements store.Executor in one statement, which
// returns each row after the update with the credit it held before.
func (e *executor) MessageUpdateMany(ctx context.Context, ps []*store.MessageUpdateParams) ([]*store.Message, error) {
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			return nil, err
		}
	}
	out := make([]*store.Message, len(ps))
	if len(ps) == 0 {
		return out, nil
	}
	// The first occurrence of each id, in id order: rows are locked in one
	// order by every update.
	first := make(map[int64]int, len(ps))
	order := make([]int, 0, len(ps))
	for i, p := range ps {
		if _, ok := first[p.ID]; !ok {
			first[p.ID] = i
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(ps[a].ID, ps[b].ID) })
	n := len(order)
	var (
		ids                           = make([]int64, n)
		holders, states, msgIDs, errs = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		drop, uncount                 = make([]bool, n), make([]bool, n)
		runAt, now                    = make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
	)
	for j, i := range order {
		p := ps[i]
		ids[j], holders[j], states[j], msgIDs[j], errs[j] = p.ID, p.Holder, p.State, p.MsgID, p.LastError
		drop[j], uncount[j] = p.DropCredit, p.Uncount
		runAt[j], now[j] = timestamptz(p.RunAt), timestamptz(p.Now)
	}
	rows, err := e.q.Query(ctx, queryMessageUpdateMany, ids, holders, states, runAt, msgIDs, errs, drop, now, uncount)
	if err != nil {
		return nil, fmt.Errorf("update messages: %w", err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("update messages: %w", err)
	}
	for _, m := range msgs {
		out[first[m.ID]] = m
	}
	return out, nil
}

// MessageRequeueWaiting implements store.Executor in one statement.
func (e *executor) MessageRequeueWaiting(ctx context.Context, p *store.MessageRequeueWaitingParams) (int64, error) {
	tag, err := e.q.Exec(ctx, queryMessageRequeueWaiting, timeArg(p.Now), timeArg(p.Cutoff),
		nonNilStrings(p.SubscribeKinds), nonNilStrings(p.TemplateKinds))
	if err != nil {
		return 0, fmt.Errorf("requeue waiting messages: %w", err)
	}
	return tag.RowsAffected(), nil
}

// AttemptInsertMany implements store.Executor in one statement.
func (e *executor) AttemptInsertMany(ctx context.Context, as []*store.Attempt) error {
	if len(as) == 0 {
		return nil
	}
	n := len(as)
	var (
		ids              = make([]int64, n)
		ns, codes        = make([]int32, n), make([]int32, n)
		ats              = make([]pgtype.Timestamptz, n)
		errMsgs, classes = make([]string, n), make([]string, n)
		latencies        = make([]float64, n)
	)
	for i, a := range as {
		ids[i], ns[i], codes[i], ats[i] = a.MessageID, int32(a.N), int32(a.ErrCode), timestamptz(a.At)
		errMsgs[i], classes[i], latencies[i] = a.ErrMsg, a.Class, a.LatencyMS
	}
	rs, err := e.q.Query(ctx, queryAttemptInsertMany, ids, ns, ats, codes, errMsgs, classes, latencies)
	if err == nil {
		err = store.NumberAttempts(as, func(id *int64, n *int) (bool, error) {
			if !rs.Next() {
				return false, rs.Err()
			}
			return true, rs.Scan(id, n)
		})
		rs.Close()
		if err == nil {
			err = rs.Err()
		}
	}
	if pgCode(err) == codeUniqueViolation {
		return store.ErrConflict
	} else if err != nil {
		return fmt.Errorf("insert attempts: %w", err)
	}
	return nil
}

// MessageGet implements store.Executor.
func (e *executor) MessageGet(ctx context.Context, id int64) (*store.Message, error) {
	m, err := scanMessage(e.q.QueryRow(ctx, queryMessageGet, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get message: %w", err)
	}
	return m, nil
}

// MessageAttempts implements store.Executor.
func (e *executor) MessageAttempts(ctx context.Context, id int64) ([]*store.Attempt, error) {
	rows, err := e.q.Query(ctx, queryAttemptList, id)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	defer rows.Close()
	attempts := []*store.Attempt{}
	for rows.Next() {
		var a store.Attempt
		if err := rows.Scan(&a.MessageID, &a.N, &a.At, &a.ErrCode, &a.ErrMsg, &a.Class, &a.LatencyMS); err != nil {
			return nil, fmt.Errorf("list attempts: %w", err)
		}
		a.At = a.At.UTC()
		attempts = append(attempts, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	return attempts, nil
}

// MessageList implements store.Executor.
func (e *executor) MessageList(ctx context.Context, p *store.MessageListParams) ([]*store.Message, error) {
	var (
		q    strings.Builder
		args []any
	)
	where := func(clause string, arg any) {
		args = append(args, arg)
		fmt.Fprintf(&q, clause, len(args))
	}
	q.WriteString(queryMessageListSelect)
	if p.AppIDs != nil {
		where(queryMessageWhereApps, p.AppIDs)
	}
	if p.OpenID != "" {
		where(queryMessageWhereOpenID, p.OpenID)
	}
	if p.State != "" {
		where(queryMessageWhereState, p.State)
	}
	if p.BroadcastID != 0 {
		where(queryMessageWhereBcast, p.BroadcastID)
	}
	if p.BeforeID != 0 {
		where(queryMessageWhereBefore, p.BeforeID)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	where(queryMessageListOrder, limit)
	rows, err := e.q.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return msgs, nil
}

// MessageCounts implements store.Executor.
func (e *executor) MessageCounts(ctx context.Context, p *store.MessageCountsParams) (map[string]int64, error) {
	var (
		q    strings.Builder
		args []any
	)
	where := func(clause string, arg any) {
		args = append(args, arg)
		fmt.Fprintf(&q, clause, len(args))
	}
	q.WriteString(queryMessageCountSelect)
	if p.AppID != "" {
		where(queryMessageWhereApp, p.AppID)
	}
	if p.BroadcastID != 0 {
		where(queryMessageWhereBcast, p.BroadcastID)
	}
	q.WriteString(queryMessageCountGroup)
	rows, err := e.q.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("count messages: %w", err)
	}
	defer rows.Close()
	counts := map[string]int64{}
	for rows.Next() {
		var (
			state string
			n     int64
		)
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("count messages: %w", err)
		}
		counts[state] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count messages: %w", err)
	}
	return counts, nil
}

// MessagePurge implements store.Executor in one statement.
func (e *executor) MessagePurge(ctx context.Context, before time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	if err := e.q.QueryRow(ctx, queryMessagePurge, timeArg(before), limit).Scan(&n); err != nil {
		return 0, fmt.Errorf("purge messages: %w", err)
	}
	return n, nil
}

func scanMessage(row pgx.Row) (*store.Message, error) {
	var (
		m                                 store.Message
		expiresAt, leaseUntil             *time.Time
		key, claimedBy                    *string
		broadcastID, scheduleID, creditID *int64
	)
	if err := row.Scan(&m.ID, &m.AppID, &m.OpenID, &m.Kind, &m.TemplateID, &m.Data, &m.Page, &m.MiniprogramState,
		&m.Lang, &m.EmphasisKeyword, &m.RunAt, &expiresAt, &m.WaitForCredit, &key, &broadcastID, &scheduleID,
		&m.State, &m.Attempts, &claimedBy, &leaseUntil, &creditID, &m.CreditValue, &m.MsgID, &m.LastError,
		&m.CreatedAt, &m.UpdatedAt); err != nil {
		return nil, err
	}
	m.RunAt, m.CreatedAt, m.UpdatedAt = m.RunAt.UTC(), m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	m.ExpiresAt, m.LeaseUntil = timeValue(expiresAt), timeValue(leaseUntil)
	m.IdempotencyKey, m.ClaimedBy = stringValue(key), stringValue(claimedBy)
	m.BroadcastID, m.ScheduleID, m.CreditID = int64Value(broadcastID), int64Value(scheduleID), int64Value(creditID)
	return &m, nil
}

// scanMessages reads and closes rows.
func scanMessages(rows pgx.Rows) ([]*store.Message, error) {
	defer rows.Close()
	msgs := []*store.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, rows.Err()
}

func int64Value(v *int64) int64 {
	if v == nil {
		return 0
	}
	return *v
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
