package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wxnotify/wxnotify/store"
)

var (
	queryMessageInsert           = queries.MustGet("MessageInsert")
	queryMessageIDByKey          = queries.MustGet("MessageIDByKey")
	queryMessageAnyDue           = queries.MustGet("MessageAnyDue")
	queryMessageNextDue          = queries.MustGet("MessageNextDue")
	queryMessageLockDue          = queries.MustGet("MessageLockDue")
	queryMessageLockExpired      = queries.MustGet("MessageLockExpired")
	queryMessageLockLeaseExpired = queries.MustGet("MessageLockLeaseExpired")
	queryMessageLockOfTemplate   = queries.MustGet("MessageLockOfTemplate")
	queryMessageGet              = queries.MustGet("MessageGet")
	queryMessageClaimMany        = queries.MustGet("MessageClaimMany")
	queryMessageUpdateMany       = queries.MustGet("MessageUpdateMany")
	queryMessageDropCredit       = queries.MustGet("MessageDropCredit")
	queryMessageRequeueWaiting   = queries.MustGet("MessageRequeueWaiting")
	queryMessagePurgeable        = queries.MustGet("MessagePurgeable")
	queryMessagePurge            = queries.MustGet("MessagePurge")
	queryAttemptInsertMany       = queries.MustGet("AttemptInsertMany")
	queryAttemptList             = queries.MustGet("AttemptList")
	queryAttemptPurge            = queries.MustGet("AttemptPurge")

	// The fragments MessageList and MessageCounts are built from.
	queryMessageListSelect     = queries.MustGet("MessageListSelect")
	queryMessageCountSelect    = queries.MustGet("MessageCountSelect")
	queryMessageWhereApps      = queries.MustGet("MessageWhereApps")
	queryMessageWhereApp       = queries.MustGet("MessageWhereApp")
	queryMessageWhereOpenID    = queries.MustGet("MessageWhereOpenID")
	queryMessageWhereState     = queries.MustGet("MessageWhereState")
	queryMessageWhereBroadcast = queries.MustGet("MessageWhereBroadcast")
	queryMessageWhereBefore    = queries.MustGet("MessageWhereBefore")
	queryMessageListOrder      = queries.MustGet("MessageListOrder")
	queryMessageCountGroup     = queries.MustGet("MessageCountGroup")
)

// defaultListLimit is MessageListParams.Limit when unset.
const defaultListLimit = 100

// MessageInsertMany implements store.Executor: one prepared statement, and
// a lookup for each key that was taken, all or none (a transaction of its
// own on the pool, a savepoint in one).
func (e *executor) MessageInsertMany(ctx context.Context, ps []*store.MessageInsertParams) ([]store.MessageInsertResult, error) {
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			return nil, err
		}
	}
	if len(ps) == 0 {
		return []store.MessageInsertResult{}, nil
	}
	res := make([]store.MessageInsertResult, len(ps))
	err := e.atomic(ctx, func(w *executor) error {
		ins, err := w.write.PrepareContext(ctx, queryMessageInsert)
		if err != nil {
			return err
		}
		defer ins.Close()
		for i, p := range ps {
			data := string(p.Data)
			if len(p.Data) == 0 {
				data = "{}"
			}
			var key any
			if p.IdempotencyKey != "" {
				key = p.IdempotencyKey
			}
			err := ins.QueryRowContext(ctx, p.AppID, p.OpenID, p.Kind, p.TemplateID, data, p.Page,
				p.MiniprogramState, p.Lang, p.EmphasisKeyword, timeArg(p.RunAt), timeArg(p.ExpiresAt),
				p.WaitForCredit, key, nullID(p.BroadcastID), nullID(p.ScheduleID), timeArg(p.Now)).Scan(&res[i].ID)
			if errors.Is(err, sql.ErrNoRows) {
				// The key is taken, by an earlier message or one of this batch.
				err = w.write.QueryRowContext(ctx, queryMessageIDByKey, p.AppID, p.IdempotencyKey).Scan(&res[i].ID)
			} else if err == nil {
				res[i].Created = true
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("insert messages: %w", err)
	}
	return res, nil
}

// MessageAnyDue implements store.Executor: on the pool it reads from the
// read pool, so an idle claimer does not queue for the writer.
func (e *executor) MessageAnyDue(ctx context.Context, now time.Time) (bool, error) {
	var one int
	err := e.read.QueryRowContext(ctx, queryMessageAnyDue, timeArg(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("any message due: %w", err)
	}
	return true, nil
}

// MessageNextDue implements store.Executor, on the read pool.
func (e *executor) MessageNextDue(ctx context.Context, now time.Time) (time.Time, error) {
	var next sql.NullInt64
	if err := e.read.QueryRowContext(ctx, queryMessageNextDue, timeArg(now)).Scan(&next); err != nil {
		return time.Time{}, fmt.Errorf("next due message: %w", err)
	}
	return timeValue(next), nil
}

// MessageLockDue implements store.Executor. Like every Lock method it reads
// from the writer: in a transaction nothing else writes until it ends.
func (e *executor) MessageLockDue(ctx context.Context, p *store.MessageLockDueParams) ([]*store.Message, error) {
	if p.Limit <= 0 {
		return []*store.Message{}, nil
	}
	return e.lockMessages(ctx, "lock due messages", queryMessageLockDue, timeArg(p.Now), p.Limit)
}

// MessageLockExpired implements store.Executor.
func (e *executor) MessageLockExpired(ctx context.Context, now time.Time, limit int) ([]*store.Message, error) {
	if limit <= 0 {
		return []*store.Message{}, nil
	}
	return e.lockMessages(ctx, "lock expired messages", queryMessageLockExpired, timeArg(now), limit)
}

// MessageLockLeaseExpired implements store.Executor.
func (e *executor) MessageLockLeaseExpired(ctx context.Context, now time.Time, limit int) ([]*store.Message, error) {
	if limit <= 0 {
		return []*store.Message{}, nil
	}
	return e.lockMessages(ctx, "lock messages with an expired lease", queryMessageLockLeaseExpired, timeArg(now), limit)
}

// MessageLockOfTemplate implements store.Executor.
func (e *executor) MessageLockOfTemplate(ctx context.Context, appID, templateID string) ([]*store.Message, error) {
	return e.lockMessages(ctx, "lock messages of template", queryMessageLockOfTemplate, appID, templateID)
}

// lockMessages runs a Lock query on the writer.
func (e *executor) lockMessages(ctx context.Context, what, query string, args ...any) ([]*store.Message, error) {
	rows, err := e.write.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return msgs, nil
}

// MessageLock implements store.Executor: MessageGet on the writer.
func (e *executor) MessageLock(ctx context.Context, id int64) (*store.Message, error) {
	m, err := scanMessage(e.write.QueryRowContext(ctx, queryMessageGet, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	claims := make([][3]any, len(p.Claims)) // [id, credit_id, credit_value]
	for i, c := range p.Claims {
		claims[i] = [3]any{c.ID, c.CreditID, c.CreditValue}
	}
	js, err := json.Marshal(claims)
	if err != nil {
		return fmt.Errorf("claim messages: %w", err)
	}
	if _, err := e.write.ExecContext(ctx, queryMessageClaimMany,
		p.Holder, timeArg(p.LeaseUntil), timeArg(p.Now), string(js)); err != nil {
		return fmt.Errorf("claim messages: %w", err)
	}
	return nil
}

// MessageUpdateMany implements store.Executor: one statement for the
// updates, which returns the rows with the credit they held, then one that
// drops the credit of those that drop it; both in a transaction (a
// savepoint in one) when there is a credit to drop.
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
	// Each id once, for its first occurrence: UPDATE … FROM would apply
	// one of several matches at random.
	var (
		first   = make(map[int64]int, len(ps))
		updates = make([][8]any, 0, len(ps)) // [id, holder, state, run_at, msgid, last_error, now, uncount]
		drops   bool
	)
	for i, p := range ps {
		if _, ok := first[p.ID]; ok {
			continue
		}
		first[p.ID] = i
		uncount := 0
		if p.Uncount {
			uncount = 1
		}
		updates = append(updates, [8]any{p.ID, p.Holder, p.State, timeArg(p.RunAt), p.MsgID, p.LastError, timeArg(p.Now), uncount})
		drops = drops || p.DropCredit
	}
	js, err := json.Marshal(updates)
	if err != nil {
		return nil, fmt.Errorf("update messages: %w", err)
	}
	update := func(w *executor) error {
		rows, err := w.write.QueryContext(ctx, queryMessageUpdateMany, string(js))
		if err != nil {
			return err
		}
		msgs, err := scanMessages(rows)
		if err != nil {
			return err
		}
		var drop []int64
		for _, m := range msgs {
			i := first[m.ID]
			out[i] = m
			if ps[i].DropCredit && (m.CreditID != 0 || m.CreditValue != "") {
				drop = append(drop, m.ID)
			}
		}
		if len(drop) > 0 {
			if _, err := w.write.ExecContext(ctx, queryMessageDropCredit, jsonIDs(drop)); err != nil {
				return fmt.Errorf("drop credits: %w", err)
			}
		}
		return nil
	}
	if drops {
		err = e.atomic(ctx, update)
	} else {
		err = update(e) // one statement: atomic on its own
	}
	if err != nil {
		return nil, fmt.Errorf("update messages: %w", err)
	}
	return out, nil
}

// MessageRequeueWaiting implements store.Executor in one statement.
func (e *executor) MessageRequeueWaiting(ctx context.Context, p *store.MessageRequeueWaitingParams) (int64, error) {
	res, err := e.write.ExecContext(ctx, queryMessageRequeueWaiting,
		timeArg(p.Now), timeArg(p.Cutoff), jsonStrings(p.SubscribeKinds), jsonStrings(p.TemplateKinds))
	if err != nil {
		return 0, fmt.Errorf("requeue waiting messages: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("requeue waiting messages: %w", err)
	}
	return n, nil
}

// AttemptInsertMany implements store.Executor in one statement.
func (e *executor) AttemptInsertMany(ctx context.Context, as []*store.Attempt) error {
	if len(as) == 0 {
		return nil
	}
	rows := make([][7]any, len(as)) // [message_id, n, at, errcode, errmsg, class, latency_ms]
	for i, a := range as {
		rows[i] = [7]any{a.MessageID, a.N, timeArg(a.At), a.ErrCode, a.ErrMsg, a.Class, a.LatencyMS}
	}
	js, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("insert attempts: %w", err)
	}
	rs, err := e.write.QueryContext(ctx, queryAttemptInsertMany, string(js))
	if err == nil {
		err = store.NumberAttempts(as, func(id *int64, n *int) (bool, error) {
			if !rs.Next() {
				return false, rs.Err()
			}
			return true, rs.Scan(id, n)
		})
		if cerr := rs.Close(); err == nil {
			err = cerr
		}
	}
	if isUniqueViolation(err) {
		return fmt.Errorf("insert attempts: %w", store.ErrConflict)
	} else if err != nil {
		return fmt.Errorf("insert attempts: %w", err)
	}
	return nil
}

// MessageGet implements store.Executor.
func (e *executor) MessageGet(ctx context.Context, id int64) (*store.Message, error) {
	m, err := scanMessage(e.read.QueryRowContext(ctx, queryMessageGet, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get message: %w", err)
	}
	return m, nil
}

// MessageAttempts implements store.Executor.
func (e *executor) MessageAttempts(ctx context.Context, id int64) ([]*store.Attempt, error) {
	rows, err := e.read.QueryContext(ctx, queryAttemptList, id)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	defer rows.Close()
	attempts := []*store.Attempt{}
	for rows.Next() {
		var (
			a  store.Attempt
			at sql.NullInt64
		)
		if err := rows.Scan(&a.MessageID, &a.N, &at, &a.ErrCode, &a.ErrMsg, &a.Class, &a.LatencyMS); err != nil {
			return nil, fmt.Errorf("list attempts: %w", err)
		}
		a.At = timeValue(at)
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
	q.WriteString(queryMessageListSelect)
	if p.AppIDs != nil {
		apps, err := json.Marshal(p.AppIDs)
		if err != nil {
			return nil, fmt.Errorf("list messages: %w", err)
		}
		q.WriteString(queryMessageWhereApps)
		args = append(args, string(apps))
	}
	for _, f := range []struct {
		set   bool
		where string
		arg   any
	}{
		{p.OpenID != "", queryMessageWhereOpenID, p.OpenID},
		{p.State != "", queryMessageWhereState, p.State},
		{p.BroadcastID != 0, queryMessageWhereBroadcast, p.BroadcastID},
		{p.BeforeID != 0, queryMessageWhereBefore, p.BeforeID},
	} {
		if f.set {
			q.WriteString(f.where)
			args = append(args, f.arg)
		}
	}
	limit := p.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	q.WriteString(queryMessageListOrder)
	args = append(args, limit)
	rows, err := e.read.QueryContext(ctx, q.String(), args...)
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
	q.WriteString(queryMessageCountSelect)
	if p.AppID != "" {
		q.WriteString(queryMessageWhereApp)
		args = append(args, p.AppID)
	}
	if p.BroadcastID != 0 {
		q.WriteString(queryMessageWhereBroadcast)
		args = append(args, p.BroadcastID)
	}
	q.WriteString(queryMessageCountGroup)
	return e.countByState(ctx, "count messages", q.String(), args...)
}

// countByState runs a query of (state, count) rows on the read querier.
func (e *executor) countByState(ctx context.Context, what, query string, args ...any) (map[string]int64, error) {
	rows, err := e.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	counts := map[string]int64{}
	for rows.Next() {
		var (
			state string
			n     int64
		)
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		counts[state] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return counts, nil
}

// MessagePurge implements store.Executor, all or none (a transaction of
// its own on the pool, a savepoint in one).
func (e *executor) MessagePurge(ctx context.Context, before time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	err := e.atomic(ctx, func(w *executor) error {
		rows, err := w.write.QueryContext(ctx, queryMessagePurgeable, timeArg(before), limit)
		if err != nil {
			return err
		}
		ids, err := scanIDs(rows)
		if err != nil || len(ids) == 0 {
			return err
		}
		js := jsonIDs(ids)
		if _, err := w.write.ExecContext(ctx, queryAttemptPurge, js); err != nil {
			return err
		}
		res, err := w.write.ExecContext(ctx, queryMessagePurge, js)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge messages: %w", err)
	}
	return n, nil
}

func scanMessage(s scanner) (*store.Message, error) {
	var (
		m                                 store.Message
		data                              string
		runAt, expiresAt, leaseUntil      sql.NullInt64
		createdAt, updatedAt              sql.NullInt64
		broadcastID, scheduleID, creditID sql.NullInt64
		key, claimedBy                    sql.NullString
	)
	if err := s.Scan(&m.ID, &m.AppID, &m.OpenID, &m.Kind, &m.TemplateID, &data, &m.Page, &m.MiniprogramState,
		&m.Lang, &m.EmphasisKeyword, &runAt, &expiresAt, &m.WaitForCredit, &key, &broadcastID, &scheduleID,
		&m.State, &m.Attempts, &claimedBy, &leaseUntil, &creditID, &m.CreditValue, &m.MsgID, &m.LastError,
		&createdAt, &updatedAt); err != nil {
		return nil, err
	}
	m.Data = []byte(data)
	m.RunAt, m.ExpiresAt, m.LeaseUntil = timeValue(runAt), timeValue(expiresAt), timeValue(leaseUntil)
	m.CreatedAt, m.UpdatedAt = timeValue(createdAt), timeValue(updatedAt)
	m.IdempotencyKey, m.ClaimedBy = key.String, claimedBy.String
	m.BroadcastID, m.ScheduleID, m.CreditID = broadcastID.Int64, scheduleID.Int64, creditID.Int64
	return &m, nil
}

// scanMessages reads and closes rows.
func scanMessages(rows *sql.Rows) ([]*store.Message, error) {
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

// scanIDs reads and closes rows of one id each.
func scanIDs(rows *sql.Rows) ([]int64, error) {
	defer rows.Close()
	ids := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// jsonIDs is ids as one JSON array, for json_each.
func jsonIDs(ids []int64) string {
	b, _ := json.Marshal(ids) // cannot fail on []int64
	return string(b)
}

// nullID stores an optional id: 0 is NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// jsonStrings is ss as one JSON array, for json_each; nil is [].
func jsonStrings(ss []string) string {
	if ss == nil {
		return "[]"
	}
	b, _ := json.Marshal(ss) // cannot fail on []string
	return string(b)
}
