package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wxnotify/wxnotify/store"
)

var _ store.MessageStore = (*DB)(nil)

// noCreditError is the last_error of a message the claim found no credit for.
const noCreditError = "no usable credit"

// defaultListLimit is MessageListParams.Limit when unset.
const defaultListLimit = 100

// creditKinds returns the credit kinds a message of kind spends, in order of
// preference, and the template the credit must be for: subscribe messages
// spend their template's subscribe, then long_term credits; template
// (legacy) messages any form_id, then prepay_id of the user.
func creditKinds(kind, templateID string) ([]string, string) {
	if kind == "subscribe" {
		return []string{"subscribe", "long_term"}, templateID
	}
	return []string{"form_id", "prepay_id"}, ""
}

// MessageInsertMany implements store.MessageStore: one transaction, one
// prepared statement, and a lookup for each key that was taken.
func (db *DB) MessageInsertMany(ctx context.Context, ps []*store.MessageInsertParams) ([]store.MessageInsertResult, error) {
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			return nil, err
		}
	}
	if len(ps) == 0 {
		return []store.MessageInsertResult{}, nil
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("insert messages: %w", err)
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, queryMessageInsert)
	if err != nil {
		return nil, fmt.Errorf("insert messages: %w", err)
	}
	defer ins.Close()
	res := make([]store.MessageInsertResult, len(ps))
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
			err = tx.QueryRowContext(ctx, queryMessageIDByKey, p.AppID, p.IdempotencyKey).Scan(&res[i].ID)
		} else if err == nil {
			res[i].Created = true
		}
		if err != nil {
			return nil, fmt.Errorf("insert messages: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("insert messages: %w", err)
	}
	return res, nil
}

// MessageClaim implements store.MessageStore in one write transaction: it
// selects the due messages, reserves a credit with the ledger's rule
// (queryMessageReserveCredit) for each that holds none, one statement per
// message and kind, then claims those with a credit in one statement.
func (db *DB) MessageClaim(ctx context.Context, p *store.MessageClaimParams) ([]*store.Message, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now, cutoff := timeArg(p.Now), timeArg(p.CreditCutoff)
	var due int
	switch err := db.read.QueryRowContext(ctx, queryMessageAnyDue, now).Scan(&due); {
	case errors.Is(err, sql.ErrNoRows):
		return []*store.Message{}, nil
	case err != nil:
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, queryMessageDue, now, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	if len(msgs) == 0 {
		return msgs, nil
	}
	reserve, err := tx.PrepareContext(ctx, queryMessageReserveCredit)
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	defer reserve.Close()
	var (
		updatedAt = p.Now.UTC().Truncate(store.TimePrecision)
		lease     = p.LeaseUntil.UTC().Truncate(store.TimePrecision)
		claims    = make([][3]any, 0, len(msgs)) // [id, credit_id, credit_value]
	)
	for _, m := range msgs {
		if m.CreditID == 0 {
			kinds, template := creditKinds(m.Kind, m.TemplateID)
			for _, kind := range kinds {
				err := reserve.QueryRowContext(ctx, m.AppID, m.OpenID, template, kind, cutoff, now).Scan(&m.CreditID, &m.CreditValue)
				if errors.Is(err, sql.ErrNoRows) {
					continue
				} else if err != nil {
					return nil, fmt.Errorf("claim messages: reserve credit: %w", err)
				}
				break
			}
		}
		m.UpdatedAt = updatedAt
		if m.CreditID == 0 {
			m.State, m.LastError = "no_credit", noCreditError
			if m.WaitForCredit {
				m.State = "waiting_credit"
			}
			if _, err := tx.ExecContext(ctx, queryMessageNoCredit, m.ID, m.State, m.LastError, now); err != nil {
				return nil, fmt.Errorf("claim messages: %w", err)
			}
			continue
		}
		m.State, m.ClaimedBy, m.LeaseUntil, m.Attempts = "sending", p.Holder, lease, m.Attempts+1
		claims = append(claims, [3]any{m.ID, m.CreditID, m.CreditValue})
	}
	if len(claims) > 0 {
		js, err := json.Marshal(claims)
		if err != nil {
			return nil, fmt.Errorf("claim messages: %w", err)
		}
		if _, err := tx.ExecContext(ctx, queryMessageClaim, p.Holder, timeArg(p.LeaseUntil), now, string(js)); err != nil {
			return nil, fmt.Errorf("claim messages: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	return msgs, nil
}

// MessageFinishMany implements store.MessageStore in one write transaction:
// one statement for the outcomes, one for the attempts. Killed and refunded
// credits then go through the ledger's own queryCreditKill and
// queryCreditRefund.
func (db *DB) MessageFinishMany(ctx context.Context, ps []*store.MessageFinishParams) ([]bool, error) {
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			return nil, err
		}
	}
	applied := make([]bool, len(ps))
	if len(ps) == 0 {
		return applied, nil
	}
	// Each id once, for its first occurrence: UPDATE … FROM would apply
	// one of several matches at random.
	first := make(map[int64]int, len(ps))
	outcomes := make([][7]any, 0, len(ps)) // [id, holder, state, run_at, msgid, last_error, now]
	for i, p := range ps {
		if _, ok := first[p.ID]; ok {
			continue
		}
		first[p.ID] = i
		outcomes = append(outcomes, [7]any{p.ID, p.Holder, p.State, timeArg(p.RunAt), p.MsgID, p.LastError, timeArg(p.Now)})
	}
	js, err := json.Marshal(outcomes)
	if err != nil {
		return nil, fmt.Errorf("finish messages: %w", err)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("finish messages: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, queryMessageFinish, string(js))
	if err != nil {
		return nil, fmt.Errorf("finish messages: %w", err)
	}
	var (
		attempts [][7]any // [message_id, n, at, errcode, errmsg, class, latency_ms]
		credits  []int    // indexes into ps whose credit is killed or refunded
		creditOf = map[int]int64{}
	)
	for rows.Next() {
		var (
			id, n    int64
			creditID sql.NullInt64
		)
		if err := rows.Scan(&id, &creditID, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("finish messages: %w", err)
		}
		i := first[id]
		p := ps[i]
		applied[i] = true
		if a := p.Attempt; a != nil {
			if a.N > 0 {
				n = int64(a.N)
			}
			attempts = append(attempts, [7]any{p.ID, n, timeArg(a.At), a.ErrCode, a.ErrMsg, a.Class, a.LatencyMS})
		}
		if creditID.Valid && (p.KillCreditReason != "" || p.RefundCredit) {
			credits = append(credits, i)
			creditOf[i] = creditID.Int64
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("finish messages: %w", err)
	}
	if len(attempts) > 0 {
		js, err := json.Marshal(attempts)
		if err != nil {
			return nil, fmt.Errorf("finish messages: %w", err)
		}
		if _, err := tx.ExecContext(ctx, queryAttemptInsert, string(js)); err != nil {
			return nil, fmt.Errorf("finish messages: record attempts: %w", err)
		}
	}
	for _, i := range credits {
		// A purged credit is gone already: nothing to kill or refund.
		p := ps[i]
		if p.KillCreditReason != "" {
			_, err = tx.ExecContext(ctx, queryCreditKill, creditOf[i], p.KillCreditReason)
		} else {
			_, err = tx.ExecContext(ctx, queryCreditRefund, creditOf[i])
		}
		if err != nil {
			return nil, fmt.Errorf("finish message %d: credit: %w", p.ID, err)
		}
		if _, err := tx.ExecContext(ctx, queryMessageDropCredit, p.ID); err != nil {
			return nil, fmt.Errorf("finish message %d: %w", p.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("finish messages: %w", err)
	}
	return applied, nil
}

// MessageRecover implements store.MessageStore.
func (db *DB) MessageRecover(ctx context.Context, now time.Time) ([]int64, error) {
	rows, err := db.write.QueryContext(ctx, queryMessageRecover, timeArg(now))
	if err != nil {
		return nil, fmt.Errorf("recover messages: %w", err)
	}
	ids, err := scanIDs(rows)
	if err != nil {
		return nil, fmt.Errorf("recover messages: %w", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// MessageExpire implements store.MessageStore in one write transaction.
func (db *DB) MessageExpire(ctx context.Context, now time.Time) ([]int64, error) {
	return db.endMessages(ctx, "expire messages",
		queryMessageExpiring, []any{timeArg(now)},
		queryMessageExpire, func(ids string) []any { return []any{timeArg(now), ids} })
}

// endMessages moves the messages a query finds (id, credit_id) to a final
// state with update (given the ids as a JSON array) and gives back the
// credits they held, in one write transaction. MessageExpire and
// MessageFailTemplate differ only in their statements.
func (db *DB) endMessages(ctx context.Context, what, find string, findArgs []any, update string, updateArgs func(ids string) []any) ([]int64, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, find, findArgs...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	ids := []int64{}
	var credits []int64
	for rows.Next() {
		var (
			id       int64
			creditID sql.NullInt64
		)
		if err := rows.Scan(&id, &creditID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		ids = append(ids, id)
		if creditID.Valid {
			credits = append(credits, creditID.Int64)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(ids) == 0 {
		return ids, nil
	}
	if _, err := tx.ExecContext(ctx, update, updateArgs(jsonIDs(ids))...); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	for _, id := range credits {
		if _, err := tx.ExecContext(ctx, queryCreditRefund, id); err != nil {
			return nil, fmt.Errorf("%s: refund credit: %w", what, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	slices.Sort(ids)
	return ids, nil
}

// MessageRequeueWaiting implements store.MessageStore.
func (db *DB) MessageRequeueWaiting(ctx context.Context, now, cutoff time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, queryMessageRequeueWaiting, timeArg(now), timeArg(cutoff))
	if err != nil {
		return 0, fmt.Errorf("requeue waiting messages: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("requeue waiting messages: %w", err)
	}
	return n, nil
}

// MessageCancel implements store.MessageStore in one write transaction.
func (db *DB) MessageCancel(ctx context.Context, id int64, now time.Time) (*store.Message, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("cancel message: %w", err)
	}
	defer tx.Rollback()
	var (
		state    string
		creditID sql.NullInt64
	)
	err = tx.QueryRowContext(ctx, queryMessageCancelCheck, id).Scan(&state, &creditID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("cancel message: %w", err)
	}
	cancelled := state == "queued" || state == "waiting_credit"
	if cancelled {
		if _, err := tx.ExecContext(ctx, queryMessageCancel, id, timeArg(now)); err != nil {
			return nil, fmt.Errorf("cancel message: %w", err)
		}
		if creditID.Valid {
			if _, err := tx.ExecContext(ctx, queryCreditRefund, creditID.Int64); err != nil {
				return nil, fmt.Errorf("cancel message: refund credit: %w", err)
			}
		}
	}
	m, err := scanMessage(tx.QueryRowContext(ctx, queryMessageGet, id))
	if err != nil {
		return nil, fmt.Errorf("cancel message: %w", err)
	}
	if !cancelled {
		return m, store.ErrConflict
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("cancel message: %w", err)
	}
	return m, nil
}

// MessageGet implements store.MessageStore.
func (db *DB) MessageGet(ctx context.Context, id int64) (*store.Message, error) {
	m, err := scanMessage(db.read.QueryRowContext(ctx, queryMessageGet, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get message: %w", err)
	}
	return m, nil
}

// MessageAttempts implements store.MessageStore.
func (db *DB) MessageAttempts(ctx context.Context, id int64) ([]*store.Attempt, error) {
	rows, err := db.read.QueryContext(ctx, queryAttemptList, id)
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

// MessageList implements store.MessageStore.
func (db *DB) MessageList(ctx context.Context, p *store.MessageListParams) ([]*store.Message, error) {
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
		{p.BroadcastID != 0, queryMessageWhereBcast, p.BroadcastID},
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
	rows, err := db.read.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return msgs, nil
}

// MessageCounts implements store.MessageStore.
func (db *DB) MessageCounts(ctx context.Context, p *store.MessageCountsParams) (map[string]int64, error) {
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
		q.WriteString(queryMessageWhereBcast)
		args = append(args, p.BroadcastID)
	}
	q.WriteString(queryMessageCountGroup)
	return db.countByState(ctx, "count messages", q.String(), args...)
}

// countByState runs a query of (state, count) rows on the read pool.
func (db *DB) countByState(ctx context.Context, what, query string, args ...any) (map[string]int64, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
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

// MessagePurge implements store.MessageStore in one write transaction.
func (db *DB) MessagePurge(ctx context.Context, before time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("purge messages: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, queryMessagePurgeable, timeArg(before), limit)
	if err != nil {
		return 0, fmt.Errorf("purge messages: %w", err)
	}
	ids, err := scanIDs(rows)
	if err != nil {
		return 0, fmt.Errorf("purge messages: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	js := jsonIDs(ids)
	if _, err := tx.ExecContext(ctx, queryAttemptPurge, js); err != nil {
		return 0, fmt.Errorf("purge messages: %w", err)
	}
	res, err := tx.ExecContext(ctx, queryMessagePurge, js)
	if err != nil {
		return 0, fmt.Errorf("purge messages: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge messages: %w", err)
	}
	if err := tx.Commit(); err != nil {
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

// MessageResolveAmbiguous implements store.MessageStore in one statement.
func (db *DB) MessageResolveAmbiguous(ctx context.Context, id int64, now time.Time) (string, error) {
	var state string
	err := db.write.QueryRowContext(ctx, queryMessageResolveAmbiguous, id, timeArg(now), store.ResolveSkew.Microseconds()).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("resolve ambiguous message: %w", err)
	}
	return state, nil
}
