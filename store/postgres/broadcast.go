package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxnotify/wxnotify/store"
)

var (
	queryBroadcastInsert     = queries.MustGet("BroadcastInsert")
	queryBroadcastFinish     = queries.MustGet("BroadcastFinish")
	queryBroadcastGet        = queries.MustGet("BroadcastGet")
	queryBroadcastAbortStale = queries.MustGet("BroadcastAbortStale")
	queryBroadcastGetByKey   = queries.MustGet("BroadcastGetByKey")
	queryBroadcastList       = queries.MustGet("BroadcastList")
	queryBroadcastFinishDone = queries.MustGet("BroadcastFinishDone")

	queryScheduleInsert   = queries.MustGet("ScheduleInsert")
	queryScheduleGet      = queries.MustGet("ScheduleGet")
	queryScheduleList     = queries.MustGet("ScheduleList")
	queryScheduleSetState = queries.MustGet("ScheduleSetState")
	queryScheduleDelete   = queries.MustGet("ScheduleDelete")
	queryScheduleClaimDue = queries.MustGet("ScheduleClaimDue")
	queryScheduleAdvance  = queries.MustGet("ScheduleAdvance")

	queryWebhookInsert       = queries.MustGet("WebhookInsert")
	queryWebhookGet          = queries.MustGet("WebhookGet")
	queryWebhookList         = queries.MustGet("WebhookList")
	queryWebhookDelete       = queries.MustGet("WebhookDelete")
	queryWebhookOutboxInsert = queries.MustGet("WebhookOutboxInsertMany")
	queryWebhookOutboxClaim  = queries.MustGet("WebhookOutboxClaim")
	queryWebhookOutboxDelete = queries.MustGet("WebhookOutboxDelete")
	queryWebhookOutboxRetry  = queries.MustGet("WebhookOutboxRetry")
	queryWebhookOutboxCounts = queries.MustGet("WebhookOutboxCounts")
	queryWebhookOutboxList   = queries.MustGet("WebhookOutboxList")
	queryWebhookOutboxReplay = queries.MustGet("WebhookOutboxReplay")
)

// BroadcastInsert implements store.Executor.
func (e *executor) BroadcastInsert(ctx context.Context, p *store.BroadcastInsertParams) (int64, error) {
	var id int64
	key := &p.IdempotencyKey
	if p.IdempotencyKey == "" {
		key = nil
	}
	err := e.q.QueryRow(ctx, queryBroadcastInsert, p.AppID, p.TemplateID, p.Spec, timeArg(p.Now), key).Scan(&id)
	switch pgCode(err) {
	case codeForeignKeyViolation:
		return 0, store.ErrNotFound
	case codeUniqueViolation:
		return 0, store.ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("insert broadcast: %w", err)
	}
	return id, nil
}

// BroadcastFinish implements store.Executor.
func (e *executor) BroadcastFinish(ctx context.Context, p *store.BroadcastFinishParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	tag, err := e.q.Exec(ctx, queryBroadcastFinish, p.ID, p.State, p.Accepted, p.Error, timeArg(p.Now), p.Fingerprint)
	if err != nil {
		return fmt.Errorf("finish broadcast: %w", err)
	} else if tag.RowsAffected() == 1 {
		return nil
	}
	if _, err := e.BroadcastGet(ctx, p.ID); err != nil {
		return err
	}
	return store.ErrConflict
}

// BroadcastGet implements store.Executor.
func (e *executor) BroadcastGet(ctx context.Context, id int64) (*store.Broadcast, error) {
	b, err := scanBroadcast(e.q.QueryRow(ctx, queryBroadcastGet, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get broadcast: %w", err)
	}
	return b, nil
}

// BroadcastGetByKey implements store.Executor.
func (e *executor) BroadcastGetByKey(ctx context.Context, appID, key string) (*store.Broadcast, error) {
	b, err := scanBroadcast(e.q.QueryRow(ctx, queryBroadcastGetByKey, appID, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get broadcast by key: %w", err)
	}
	return b, nil
}

// BroadcastList implements store.Executor.
func (e *executor) BroadcastList(ctx context.Context, p *store.BroadcastListParams) ([]*store.Broadcast, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	rows, err := e.q.Query(ctx, queryBroadcastList, p.AppIDs, p.State, p.BeforeID, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("list broadcasts: %w", err)
	}
	defer rows.Close()
	out := []*store.Broadcast{}
	for rows.Next() {
		b, err := scanBroadcast(rows)
		if err != nil {
			return nil, fmt.Errorf("list broadcasts: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list broadcasts: %w", err)
	}
	return out, nil
}

// BroadcastFinishDone implements store.Executor.
func (e *executor) BroadcastFinishDone(ctx context.Context, now time.Time) ([]int64, error) {
	rows, err := e.q.Query(ctx, queryBroadcastFinishDone, timeArg(now))
	if err != nil {
		return nil, fmt.Errorf("finish broadcasts: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("finish broadcasts: %w", err)
	}
	if ids == nil {
		ids = []int64{}
	}
	slices.Sort(ids)
	return ids, nil
}

func scanBroadcast(row pgx.Row) (*store.Broadcast, error) {
	var (
		b          store.Broadcast
		key        *string
		finishedAt *time.Time
	)
	if err := row.Scan(&b.ID, &b.AppID, &b.TemplateID, &b.Spec, &b.State, &b.Accepted, &b.Error, &b.CreatedAt, &b.UpdatedAt,
		&key, &b.Fingerprint, &b.Counts, &finishedAt); err != nil {
		return nil, err
	}
	b.CreatedAt, b.UpdatedAt = b.CreatedAt.UTC(), b.UpdatedAt.UTC()
	b.IdempotencyKey, b.FinishedAt = stringValue(key), timeValue(finishedAt)
	return &b, nil
}

// ScheduleInsert implements store.Executor.
func (e *executor) ScheduleInsert(ctx context.Context, p *store.ScheduleInsertParams) (int64, error) {
	var id int64
	err := e.q.QueryRow(ctx, queryScheduleInsert,
		p.AppID, p.Name, p.Cron, p.Timezone, p.Message, p.State, timeArg(p.NextRunAt), timeArg(p.Now)).Scan(&id)
	if pgCode(err) == codeForeignKeyViolation {
		return 0, store.ErrNotFound
	} else if err != nil {
		return 0, fmt.Errorf("insert schedule: %w", err)
	}
	return id, nil
}

// ScheduleGet implements store.Executor.
func (e *executor) ScheduleGet(ctx context.Context, id int64) (*store.Schedule, error) {
	s, err := scanSchedule(e.q.QueryRow(ctx, queryScheduleGet, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get schedule: %w", err)
	}
	return s, nil
}

// ScheduleList implements store.Executor.
func (e *executor) ScheduleList(ctx context.Context, p *store.ScheduleListParams) ([]*store.Schedule, error) {
	rows, err := e.q.Query(ctx, queryScheduleList, p.AppIDs)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	out, err := scanSchedules(rows)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	return out, nil
}

// ScheduleSetState implements store.Executor.
func (e *executor) ScheduleSetState(ctx context.Context, p *store.ScheduleSetStateParams) (*store.Schedule, error) {
	s, err := scanSchedule(e.q.QueryRow(ctx, queryScheduleSetState,
		p.ID, p.State, timeArg(p.NextRunAt), timeArg(p.Now)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("set schedule state: %w", err)
	}
	return s, nil
}

// ScheduleDelete implements store.Executor.
func (e *executor) ScheduleDelete(ctx context.Context, id int64) error {
	tag, err := e.q.Exec(ctx, queryScheduleDelete, id)
	if err != nil {
		return fmt.Errorf("delete schedule: %w", err)
	} else if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ScheduleClaimDue implements store.Executor.
func (e *executor) ScheduleClaimDue(ctx context.Context, p *store.ScheduleClaimDueParams) ([]*store.Schedule, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	rows, err := e.q.Query(ctx, queryScheduleClaimDue, p.Holder, timeArg(p.Now), timeArg(p.LeaseUntil), p.Limit)
	if err != nil {
		return nil, fmt.Errorf("claim schedules: %w", err)
	}
	out, err := scanSchedules(rows)
	if err != nil {
		return nil, fmt.Errorf("claim schedules: %w", err)
	}
	slices.SortFunc(out, func(a, b *store.Schedule) int {
		return cmp.Or(a.NextRunAt.Compare(b.NextRunAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// ScheduleAdvance implements store.Executor.
func (e *executor) ScheduleAdvance(ctx context.Context, p *store.ScheduleAdvanceParams) (bool, error) {
	tag, err := e.q.Exec(ctx, queryScheduleAdvance,
		p.ID, p.Holder, timeArg(p.Occurrence), timeArg(p.NextRunAt), timeArg(p.Now))
	if err != nil {
		return false, fmt.Errorf("advance schedule: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// WebhookInsert implements store.Executor.
func (e *executor) WebhookInsert(ctx context.Context, p *store.WebhookInsertParams) (int64, error) {
	var id int64
	err := e.q.QueryRow(ctx, queryWebhookInsert, p.AppID, p.URL, p.SecretSealed, timeArg(p.Now)).Scan(&id)
	if pgCode(err) == codeForeignKeyViolation {
		return 0, store.ErrNotFound
	} else if err != nil {
		return 0, fmt.Errorf("insert webhook: %w", err)
	}
	return id, nil
}

// WebhookGet implements store.Executor.
func (e *executor) WebhookGet(ctx context.Context, id int64) (*store.Webhook, error) {
	w, err := scanWebhook(e.q.QueryRow(ctx, queryWebhookGet, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get webhook: %w", err)
	}
	return w, nil
}

// WebhookList implements store.Executor.
func (e *executor) WebhookList(ctx context.Context, p *store.WebhookListParams) ([]*store.Webhook, error) {
	rows, err := e.q.Query(ctx, queryWebhookList, p.AppIDs)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	defer rows.Close()
	out := []*store.Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("list webhooks: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return out, nil
}

// WebhookDelete implements store.Executor.
func (e *executor) WebhookDelete(ctx context.Context, id int64) error {
	tag, err := e.q.Exec(ctx, queryWebhookDelete, id)
	if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	} else if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// WebhookOutboxInsertMany implements store.Executor in one statement.
func (e *executor) WebhookOutboxInsertMany(ctx context.Context, ps []*store.WebhookOutboxInsertParams) (int64, error) {
	if len(ps) == 0 {
		return 0, nil
	}
	n := len(ps)
	var (
		appIDs, events = make([]string, n), make([]string, n)
		messageIDs     = make([]int64, n)
		payloads       = make([][]byte, n)
		ats            = make([]time.Time, n)
	)
	for i, p := range ps {
		appIDs[i], events[i], messageIDs[i], payloads[i] = p.AppID, p.Event, p.MessageID, p.Payload
		ats[i] = p.Now.Truncate(store.TimePrecision).UTC()
	}
	tag, err := e.q.Exec(ctx, queryWebhookOutboxInsert, appIDs, events, messageIDs, payloads, ats)
	if err != nil {
		return 0, fmt.Errorf("insert webhook events: %w", err)
	}
	return tag.RowsAffected(), nil
}

// WebhookOutboxClaim implements store.Executor.
func (e *executor) WebhookOutboxClaim(ctx context.Context, p *store.WebhookOutboxClaimParams) ([]*store.WebhookOutbox, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	rows, err := e.q.Query(ctx, queryWebhookOutboxClaim, p.Holder, timeArg(p.Now), timeArg(p.LeaseUntil), p.Limit)
	if err != nil {
		return nil, fmt.Errorf("claim webhook events: %w", err)
	}
	out, err := scanOutboxRows(rows)
	if err != nil {
		return nil, fmt.Errorf("claim webhook events: %w", err)
	}
	slices.SortFunc(out, func(a, b *store.WebhookOutbox) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// WebhookOutboxFinish implements store.Executor.
func (e *executor) WebhookOutboxFinish(ctx context.Context, p *store.WebhookOutboxFinishParams) (bool, error) {
	var err error
	var n int64
	if p.Delivered {
		tag, e := e.q.Exec(ctx, queryWebhookOutboxDelete, p.ID, p.Holder)
		n, err = tag.RowsAffected(), e
	} else {
		tag, e := e.q.Exec(ctx, queryWebhookOutboxRetry, p.ID, p.Holder, p.Dead, timeArg(p.NextAttemptAt), p.LastError)
		n, err = tag.RowsAffected(), e
	}
	if err != nil {
		return false, fmt.Errorf("finish webhook event: %w", err)
	}
	return n == 1, nil
}

// WebhookOutboxCounts implements store.Executor.
func (e *executor) WebhookOutboxCounts(ctx context.Context, webhookID int64) (map[string]int64, error) {
	rows, err := e.q.Query(ctx, queryWebhookOutboxCounts, webhookID)
	if err != nil {
		return nil, fmt.Errorf("count webhook events: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			state string
			n     int64
		)
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("count webhook events: %w", err)
		}
		out[state] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count webhook events: %w", err)
	}
	return out, nil
}

func scanSchedule(row pgx.Row) (*store.Schedule, error) {
	var (
		r                                store.Schedule
		nextRunAt, lastRunAt, leaseUntil *time.Time
		leaseHolder                      *string
	)
	if err := row.Scan(&r.ID, &r.AppID, &r.Name, &r.Cron, &r.Timezone, &r.Message, &r.State,
		&nextRunAt, &lastRunAt, &leaseHolder, &leaseUntil, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return nil, err
	}
	r.NextRunAt, r.LastRunAt, r.LeaseUntil = timeValue(nextRunAt), timeValue(lastRunAt), timeValue(leaseUntil)
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	r.LeaseHolder = stringValue(leaseHolder)
	return &r, nil
}

func scanSchedules(rows pgx.Rows) ([]*store.Schedule, error) {
	defer rows.Close()
	out := []*store.Schedule{}
	for rows.Next() {
		s, err := scanSchedule(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func scanWebhook(row pgx.Row) (*store.Webhook, error) {
	var w store.Webhook
	if err := row.Scan(&w.ID, &w.AppID, &w.URL, &w.SecretSealed, &w.CreatedAt); err != nil {
		return nil, err
	}
	w.CreatedAt = w.CreatedAt.UTC()
	return &w, nil
}

// BroadcastAbortStale implements store.Executor.
func (e *executor) BroadcastAbortStale(ctx context.Context, before, now time.Time) (int64, error) {
	tag, err := e.q.Exec(ctx, queryBroadcastAbortStale, timeArg(before), timeArg(now))
	if err != nil {
		return 0, fmt.Errorf("abort stale broadcasts: %w", err)
	}
	return tag.RowsAffected(), nil
}

// WebhookOutboxList implements store.Executor.
func (e *executor) WebhookOutboxList(ctx context.Context, p *store.WebhookOutboxListParams) ([]*store.WebhookOutbox, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	rows, err := e.q.Query(ctx, queryWebhookOutboxList, p.WebhookID, p.State, p.BeforeID, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("list webhook events: %w", err)
	}
	out, err := scanOutboxRows(rows)
	if err != nil {
		return nil, fmt.Errorf("list webhook events: %w", err)
	}
	return out, nil
}

// WebhookOutboxReplay implements store.Executor.
func (e *executor) WebhookOutboxReplay(ctx context.Context, p *store.WebhookOutboxReplayParams) (int64, error) {
	tag, err := e.q.Exec(ctx, queryWebhookOutboxReplay, p.WebhookID, timeArg(p.Now), p.IDs)
	if err != nil {
		return 0, fmt.Errorf("replay webhook events: %w", err)
	}
	return tag.RowsAffected(), nil
}

// scanOutboxRows reads outbox rows and closes rows.
func scanOutboxRows(rows pgx.Rows) ([]*store.WebhookOutbox, error) {
	defer rows.Close()
	out := []*store.WebhookOutbox{}
	for rows.Next() {
		var (
			o           store.WebhookOutbox
			leaseUntil  *time.Time
			leaseHolder *string
			attempts    int32
		)
		if err := rows.Scan(&o.ID, &o.WebhookID, &o.URL, &o.SecretSealed, &o.Event, &o.MessageID, &o.Payload,
			&o.State, &attempts, &o.NextAttemptAt, &leaseHolder, &leaseUntil, &o.LastError, &o.CreatedAt); err != nil {
			return nil, err
		}
		o.Attempts = int(attempts)
		o.NextAttemptAt, o.CreatedAt = o.NextAttemptAt.UTC(), o.CreatedAt.UTC()
		o.LeaseHolder, o.LeaseUntil = stringValue(leaseHolder), timeValue(leaseUntil)
		out = append(out, &o)
	}
	return out, rows.Err()
}
