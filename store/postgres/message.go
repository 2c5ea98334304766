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

// MessageInsertMany implements store.MessageStore: one statement for the
// batch, and one more for the keys that were taken, in one transaction.
func (db *DB) MessageInsertMany(ctx context.Context, ps []*store.MessageInsertParams) ([]store.MessageInsertResult, error) {
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
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("insert messages: %w", err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, queryMessageInsert, appIDs, openIDs, kinds, templates, data, pages, states,
		langs, emphasis, runAt, expiresAt, wait, keys, broadcasts, schedules, now)
	if err != nil {
		return nil, fmt.Errorf("insert messages: %w", err)
	}
	res := make([]store.MessageInsertResult, n)
	var taken []int32 // indexes into ps whose key conflicted
	for rows.Next() {
		var (
			ord      int64
			id       int64
			inserted bool
		)
		if err := rows.Scan(&ord, &id, &inserted); err != nil {
			rows.Close()
			return nil, fmt.Errorf("insert messages: %w", err)
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
		return nil, fmt.Errorf("insert messages: %w", err)
	}
	if len(taken) > 0 {
		if err := lookupKeys(ctx, tx, ps, taken, res); err != nil {
			return nil, fmt.Errorf("insert messages: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("insert messages: %w", err)
	}
	return res, nil
}

// lookupKeys fills res[i] for each index i of ps whose key was taken.
func lookupKeys(ctx context.Context, tx pgx.Tx, ps []*store.MessageInsertParams, taken []int32, res []store.MessageInsertResult) error {
	appIDs, keys := make([]string, len(taken)), make([]string, len(taken))
	for j, i := range taken {
		appIDs[j], keys[j] = ps[i].AppID, ps[i].IdempotencyKey
	}
	rows, err := tx.Query(ctx, queryMessageIDsByKey, taken, appIDs, keys)
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

// MessageClaim implements store.MessageStore in one transaction and three
// round trips: lock the due messages, reserve their credits
// (reserveCredits), and write every outcome in one UPDATE. No statement
// waits for a lock (SKIP LOCKED throughout), so claims never deadlock with
// each other or with spends.
func (db *DB) MessageClaim(ctx context.Context, p *store.MessageClaimParams) ([]*store.Message, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now, cutoff := timeArg(p.Now), timeArg(p.CreditCutoff)
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, queryMessageDue, now, p.Limit)
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

	busy, err := reserveCredits(ctx, tx, msgs, cutoff, now)
	if err != nil {
		return nil, fmt.Errorf("claim messages: reserve credits: %w", err)
	}

	var (
		ids       = make([]int64, 0, len(msgs))
		states    = make([]string, 0, len(msgs))
		creditIDs = make([]pgtype.Int8, 0, len(msgs))
		values    = make([]string, 0, len(msgs))
		claimed   = msgs[:0]
		updatedAt = p.Now.UTC().Truncate(store.TimePrecision)
		lease     = p.LeaseUntil.UTC().Truncate(store.TimePrecision)
	)
	for i, m := range msgs {
		if busy[i] {
			continue // left queued: its credits are locked by another transaction
		}
		m.UpdatedAt = updatedAt
		switch {
		case m.CreditID != 0:
			m.State, m.ClaimedBy, m.LeaseUntil, m.Attempts = "sending", p.Holder, lease, m.Attempts+1
		case m.WaitForCredit:
			m.State, m.LastError = "waiting_credit", noCreditError
		default:
			m.State, m.LastError = "no_credit", noCreditError
		}
		ids, states = append(ids, m.ID), append(states, m.State)
		creditIDs = append(creditIDs, pgtype.Int8{Int64: m.CreditID, Valid: m.CreditID != 0})
		values = append(values, m.CreditValue)
		claimed = append(claimed, m)
	}
	if len(ids) > 0 {
		if _, err := tx.Exec(ctx, queryMessageClaim, p.Holder, timeArg(p.LeaseUntil), now, noCreditError,
			ids, states, creditIDs, values); err != nil {
			return nil, fmt.Errorf("claim messages: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	return claimed, nil
}

// reserveCredits reserves a credit for each of msgs that holds none, setting
// its CreditID and CreditValue, and reports which found only credits locked
// by other transactions. One pipelined batch: queryMessageReserveCredits for
// the first message of each credit group, then queryMessageReserveCredit
// for each later one, in order, so each sees the uses taken before it.
func reserveCredits(ctx context.Context, tx pgx.Tx, msgs []*store.Message, cutoff, now any) ([]bool, error) {
	type group struct{ appID, openID, template, kind string }
	var (
		busy              = make([]bool, len(msgs))
		seen              = map[group]bool{}
		rest              []int
		is                []int32
		apps, users, tpls []string
		kinds1, kinds2    []string
	)
	for i, m := range msgs {
		if m.CreditID != 0 {
			continue
		}
		kinds, template := creditKinds(m.Kind, m.TemplateID)
		g := group{m.AppID, m.OpenID, template, m.Kind}
		if seen[g] {
			rest = append(rest, i)
			continue
		}
		seen[g] = true
		is, apps, users, tpls = append(is, int32(i)), append(apps, m.AppID), append(users, m.OpenID), append(tpls, template)
		kinds1, kinds2 = append(kinds1, kinds[0]), append(kinds2, kinds[1])
	}
	if len(is) == 0 {
		return busy, nil
	}
	batch := &pgx.Batch{}
	batch.Queue(queryMessageReserveCredits, is, apps, users, tpls, kinds1, kinds2, cutoff, now)
	for _, i := range rest {
		m := msgs[i]
		kinds, template := creditKinds(m.Kind, m.TemplateID)
		batch.Queue(queryMessageReserveCredit, m.AppID, m.OpenID, template, kinds, cutoff, now)
	}
	br := tx.SendBatch(ctx, batch)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var (
			i     int32
			id    *int64
			value *string
			b     bool
		)
		if err := rows.Scan(&i, &id, &value, &b); err != nil {
			rows.Close()
			return nil, err
		}
		if id != nil {
			msgs[i].CreditID, msgs[i].CreditValue = *id, stringValue(value)
		}
		busy[i] = b
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, i := range rest {
		var (
			id    *int64
			value *string
		)
		if err := br.QueryRow().Scan(&id, &value, &busy[i]); err != nil {
			return nil, err
		}
		if id != nil {
			msgs[i].CreditID, msgs[i].CreditValue = *id, stringValue(value)
		}
	}
	return busy, br.Close()
}

// MessageFinishMany implements store.MessageStore in one transaction: one
// statement records the outcomes and attempts; killed and refunded credits
// then go through the ledger's own queryCreditKill and queryCreditRefund,
// in credit id order so that concurrent finishes lock them in one order.
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
	// The first occurrence of each id, in id order: rows are locked in one
	// order by every finish.
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
		runAt, now                    = make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
		aIDs                          []int64
		aN, aCode                     []int32
		aAt                           []pgtype.Timestamptz
		aMsg, aClass                  []string
		aLatency                      []float64
	)
	for j, i := range order {
		p := ps[i]
		ids[j], holders[j], states[j], msgIDs[j], errs[j] = p.ID, p.Holder, p.State, p.MsgID, p.LastError
		runAt[j], now[j] = timestamptz(p.RunAt), timestamptz(p.Now)
		if a := p.Attempt; a != nil {
			aIDs, aN, aCode = append(aIDs, p.ID), append(aN, int32(a.N)), append(aCode, int32(a.ErrCode))
			aAt, aMsg, aClass = append(aAt, timestamptz(a.At)), append(aMsg, a.ErrMsg), append(aClass, a.Class)
			aLatency = append(aLatency, a.LatencyMS)
		}
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("finish messages: %w", err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, queryMessageFinish, ids, holders, states, runAt, msgIDs, errs, now,
		aIDs, aN, aAt, aCode, aMsg, aClass, aLatency)
	if err != nil {
		return nil, fmt.Errorf("finish messages: %w", err)
	}
	type credit struct {
		id      int64
		message int64
		kill    string
	}
	var credits []credit
	for rows.Next() {
		var (
			id       int64
			creditID *int64
		)
		if err := rows.Scan(&id, &creditID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("finish messages: %w", err)
		}
		p := ps[first[id]]
		applied[first[id]] = true
		if creditID != nil && (p.KillCreditReason != "" || p.RefundCredit) {
			credits = append(credits, credit{*creditID, id, p.KillCreditReason})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("finish messages: %w", err)
	}
	if len(credits) > 0 {
		slices.SortFunc(credits, func(a, b credit) int { return cmp.Compare(a.id, b.id) })
		batch := &pgx.Batch{}
		drop := make([]int64, 0, len(credits))
		for _, c := range credits {
			// A purged credit is gone already: nothing to kill or refund.
			if c.kill != "" {
				batch.Queue(queryCreditKill, c.id, c.kill)
			} else {
				batch.Queue(queryCreditRefund, c.id)
			}
			drop = append(drop, c.message)
		}
		batch.Queue(queryMessageDropCredit, drop)
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return nil, fmt.Errorf("finish messages: credits: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("finish messages: %w", err)
	}
	return applied, nil
}

// MessageRecover implements store.MessageStore.
func (db *DB) MessageRecover(ctx context.Context, now time.Time) ([]int64, error) {
	rows, err := db.pool.Query(ctx, queryMessageRecover, timeArg(now))
	if err != nil {
		return nil, fmt.Errorf("recover messages: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("recover messages: %w", err)
	}
	slices.Sort(ids)
	return nonNil(ids), nil
}

// MessageExpire implements store.MessageStore in one transaction.
func (db *DB) MessageExpire(ctx context.Context, now time.Time) ([]int64, error) {
	return db.endMessages(ctx, "expire messages", queryMessageExpire, timeArg(now))
}

// endMessages runs query, which moves messages to a final state and
// returns (id, credit_id) of each, and gives back the credits they held, in
// one transaction. MessageExpire and MessageFailTemplate differ only in
// their statement.
func (db *DB) endMessages(ctx context.Context, what, query string, args ...any) ([]int64, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	ids := []int64{}
	var credits []int64
	for rows.Next() {
		var (
			id       int64
			creditID *int64
		)
		if err := rows.Scan(&id, &creditID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		ids = append(ids, id)
		if creditID != nil {
			credits = append(credits, *creditID)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(credits) > 0 {
		slices.Sort(credits) // a fixed lock order: no deadlock with other refunds
		batch := &pgx.Batch{}
		for _, id := range credits {
			batch.Queue(queryCreditRefund, id)
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return nil, fmt.Errorf("%s: refund credits: %w", what, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	slices.Sort(ids)
	return ids, nil
}

// MessageRequeueWaiting implements store.MessageStore.
func (db *DB) MessageRequeueWaiting(ctx context.Context, now, cutoff time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, queryMessageRequeueWaiting, timeArg(now), timeArg(cutoff))
	if err != nil {
		return 0, fmt.Errorf("requeue waiting messages: %w", err)
	}
	return tag.RowsAffected(), nil
}

// MessageCancel implements store.MessageStore in one transaction.
func (db *DB) MessageCancel(ctx context.Context, id int64, now time.Time) (*store.Message, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("cancel message: %w", err)
	}
	defer tx.Rollback(ctx)
	var (
		state    string
		creditID *int64
	)
	err = tx.QueryRow(ctx, queryMessageCancelCheck, id).Scan(&state, &creditID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("cancel message: %w", err)
	}
	cancelled := state == "queued" || state == "waiting_credit"
	if cancelled {
		if _, err := tx.Exec(ctx, queryMessageCancel, id, timeArg(now)); err != nil {
			return nil, fmt.Errorf("cancel message: %w", err)
		}
		if creditID != nil {
			if _, err := tx.Exec(ctx, queryCreditRefund, *creditID); err != nil {
				return nil, fmt.Errorf("cancel message: refund credit: %w", err)
			}
		}
	}
	m, err := scanMessage(tx.QueryRow(ctx, queryMessageGet, id))
	if err != nil {
		return nil, fmt.Errorf("cancel message: %w", err)
	}
	if !cancelled {
		return m, store.ErrConflict
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("cancel message: %w", err)
	}
	return m, nil
}

// MessageGet implements store.MessageStore.
func (db *DB) MessageGet(ctx context.Context, id int64) (*store.Message, error) {
	m, err := scanMessage(db.pool.QueryRow(ctx, queryMessageGet, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get message: %w", err)
	}
	return m, nil
}

// MessageAttempts implements store.MessageStore.
func (db *DB) MessageAttempts(ctx context.Context, id int64) ([]*store.Attempt, error) {
	rows, err := db.pool.Query(ctx, queryAttemptList, id)
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

// MessageList implements store.MessageStore.
func (db *DB) MessageList(ctx context.Context, p *store.MessageListParams) ([]*store.Message, error) {
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
	rows, err := db.pool.Query(ctx, q.String(), args...)
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
	rows, err := db.pool.Query(ctx, q.String(), args...)
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

// MessagePurge implements store.MessageStore in one statement.
func (db *DB) MessagePurge(ctx context.Context, before time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	if err := db.pool.QueryRow(ctx, queryMessagePurge, timeArg(before), limit).Scan(&n); err != nil {
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

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

// MessageResolveAmbiguous implements store.MessageStore in one statement.
func (db *DB) MessageResolveAmbiguous(ctx context.Context, id int64, now time.Time) (string, error) {
	var state string
	err := db.pool.QueryRow(ctx, queryMessageResolveAmbiguous, id, timeArg(now), store.ResolveSkew).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("resolve ambiguous message: %w", err)
	}
	return state, nil
}
