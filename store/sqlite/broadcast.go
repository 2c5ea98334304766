package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

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
	queryWebhookOutboxInsert = queries.MustGet("WebhookOutboxInsert")
	queryWebhookAppsWith     = queries.MustGet("WebhookAppsWith")
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
	var key any
	if p.IdempotencyKey != "" {
		key = p.IdempotencyKey
	}
	err := e.write.QueryRowContext(ctx, queryBroadcastInsert, p.AppID, p.TemplateID, p.Spec, timeArg(p.Now), key).Scan(&id)
	if isForeignKeyViolation(err) {
		return 0, store.ErrNotFound
	} else if isUniqueViolation(err) {
		return 0, store.ErrConflict
	} else if err != nil {
		return 0, fmt.Errorf("insert broadcast: %w", err)
	}
	return id, nil
}

// BroadcastFinish implements store.Executor.
func (e *executor) BroadcastFinish(ctx context.Context, p *store.BroadcastFinishParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	res, err := e.write.ExecContext(ctx, queryBroadcastFinish, p.ID, p.State, p.Accepted, p.Error, timeArg(p.Now), p.Fingerprint)
	if err != nil {
		return fmt.Errorf("finish broadcast: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("finish broadcast: %w", err)
	} else if n == 1 {
		return nil
	}
	if _, err := e.BroadcastGet(ctx, p.ID); err != nil {
		return err
	}
	return store.ErrConflict
}

// BroadcastGet implements store.Executor.
func (e *executor) BroadcastGet(ctx context.Context, id int64) (*store.Broadcast, error) {
	b, err := scanBroadcast(e.read.QueryRowContext(ctx, queryBroadcastGet, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get broadcast: %w", err)
	}
	return b, nil
}

// BroadcastGetByKey implements store.Executor.
func (e *executor) BroadcastGetByKey(ctx context.Context, appID, key string) (*store.Broadcast, error) {
	b, err := scanBroadcast(e.read.QueryRowContext(ctx, queryBroadcastGetByKey, appID, key))
	if errors.Is(err, sql.ErrNoRows) {
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
	apps, err := appIDsArg(p.AppIDs)
	if err != nil {
		return nil, err
	}
	rows, err := e.read.QueryContext(ctx, queryBroadcastList, apps, p.State, p.BeforeID, p.Limit)
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
	rows, err := e.write.QueryContext(ctx, queryBroadcastFinishDone, timeArg(now))
	if err != nil {
		return nil, fmt.Errorf("finish broadcasts: %w", err)
	}
	defer rows.Close()
	out := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("finish broadcasts: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("finish broadcasts: %w", err)
	}
	slices.Sort(out)
	return out, nil
}

func scanBroadcast(s scanner) (*store.Broadcast, error) {
	var (
		b                                store.Broadcast
		createdAt, updatedAt, finishedAt sql.NullInt64
		key                              sql.NullString
	)
	if err := s.Scan(&b.ID, &b.AppID, &b.TemplateID, &b.Spec, &b.State, &b.Accepted, &b.Error, &createdAt, &updatedAt,
		&key, &b.Fingerprint, &b.Counts, &finishedAt); err != nil {
		return nil, err
	}
	b.CreatedAt, b.UpdatedAt, b.FinishedAt = timeValue(createdAt), timeValue(updatedAt), timeValue(finishedAt)
	b.IdempotencyKey = key.String
	return &b, nil
}

// ScheduleInsert implements store.Executor.
func (e *executor) ScheduleInsert(ctx context.Context, p *store.ScheduleInsertParams) (int64, error) {
	var id int64
	err := e.write.QueryRowContext(ctx, queryScheduleInsert,
		p.AppID, p.Name, p.Cron, p.Timezone, p.Message, p.State, timeArg(p.NextRunAt), timeArg(p.Now)).Scan(&id)
	if isForeignKeyViolation(err) {
		return 0, store.ErrNotFound
	} else if err != nil {
		return 0, fmt.Errorf("insert schedule: %w", err)
	}
	return id, nil
}

// ScheduleGet implements store.Executor.
func (e *executor) ScheduleGet(ctx context.Context, id int64) (*store.Schedule, error) {
	s, err := scanSchedule(e.read.QueryRowContext(ctx, queryScheduleGet, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get schedule: %w", err)
	}
	return s, nil
}

// ScheduleList implements store.Executor.
func (e *executor) ScheduleList(ctx context.Context, p *store.ScheduleListParams) ([]*store.Schedule, error) {
	apps, err := appIDsArg(p.AppIDs)
	if err != nil {
		return nil, err
	}
	rows, err := e.read.QueryContext(ctx, queryScheduleList, apps)
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
	s, err := scanSchedule(e.write.QueryRowContext(ctx, queryScheduleSetState,
		p.ID, p.State, timeArg(p.NextRunAt), timeArg(p.Now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("set schedule state: %w", err)
	}
	return s, nil
}

// ScheduleDelete implements store.Executor.
func (e *executor) ScheduleDelete(ctx context.Context, id int64) error {
	res, err := e.write.ExecContext(ctx, queryScheduleDelete, id)
	if err != nil {
		return fmt.Errorf("delete schedule: %w", err)
	}
	return oneRow(res, "delete schedule")
}

// ScheduleClaimDue implements store.Executor.
func (e *executor) ScheduleClaimDue(ctx context.Context, p *store.ScheduleClaimDueParams) ([]*store.Schedule, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	rows, err := e.write.QueryContext(ctx, queryScheduleClaimDue,
		p.Holder, timeArg(p.Now), timeArg(p.LeaseUntil), p.Limit)
	if err != nil {
		return nil, fmt.Errorf("claim schedules: %w", err)
	}
	out, err := scanSchedules(rows)
	if err != nil {
		return nil, fmt.Errorf("claim schedules: %w", err)
	}
	// RETURNING gives no order.
	slices.SortFunc(out, func(a, b *store.Schedule) int {
		return cmp.Or(a.NextRunAt.Compare(b.NextRunAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// ScheduleAdvance implements store.Executor.
func (e *executor) ScheduleAdvance(ctx context.Context, p *store.ScheduleAdvanceParams) (bool, error) {
	res, err := e.write.ExecContext(ctx, queryScheduleAdvance,
		p.ID, p.Holder, timeArg(p.Occurrence), timeArg(p.NextRunAt), timeArg(p.Now))
	if err != nil {
		return false, fmt.Errorf("advance schedule: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("advance schedule: %w", err)
	}
	return n == 1, nil
}

// WebhookInsert implements store.Executor.
func (e *executor) WebhookInsert(ctx context.Context, p *store.WebhookInsertParams) (int64, error) {
	var id int64
	err := e.write.QueryRowContext(ctx, queryWebhookInsert, p.AppID, p.URL, p.SecretSealed, timeArg(p.Now)).Scan(&id)
	if isForeignKeyViolation(err) {
		return 0, store.ErrNotFound
	} else if err != nil {
		return 0, fmt.Errorf("insert webhook: %w", err)
	}
	return id, nil
}

// WebhookGet implements store.Executor.
func (e *executor) WebhookGet(ctx context.Context, id int64) (*store.Webhook, error) {
	w, err := scanWebhook(e.read.QueryRowContext(ctx, queryWebhookGet, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get webhook: %w", err)
	}
	return w, nil
}

// WebhookList implements store.Executor.
func (e *executor) WebhookList(ctx context.Context, p *store.WebhookListParams) ([]*store.Webhook, error) {
	apps, err := appIDsArg(p.AppIDs)
	if err != nil {
		return nil, err
	}
	rows, err := e.read.QueryContext(ctx, queryWebhookList, apps)
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
	res, err := e.write.ExecContext(ctx, queryWebhookDelete, id)
	if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	return oneRow(res, "delete webhook")
}

// WebhookOutboxInsertMany implements store.Executor: one prepared
// statement, all or none (a transaction of its own on the pool, a savepoint
// in one).
func (e *executor) WebhookOutboxInsertMany(ctx context.Context, ps []*store.WebhookOutboxInsertParams) (int64, error) {
	if len(ps) == 0 {
		return 0, nil
	}
	var total int64
	err := e.atomic(ctx, func(w *executor) error {
		hooked, err := w.appsWithWebhooks(ctx, ps)
		if err != nil || len(hooked) == 0 {
			return err
		}
		stmt, err := w.write.PrepareContext(ctx, queryWebhookOutboxInsert)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, p := range ps {
			if !hooked[p.AppID] {
				continue
			}
			res, err := stmt.ExecContext(ctx, p.AppID, p.Event, p.MessageID, p.Payload, timeArg(p.Now))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("insert webhook events: %w", err)
	}
	return total, nil
}

// appsWithWebhooks returns the apps of ps that have a webhook.
func (w *executor) appsWithWebhooks(ctx context.Context, ps []*store.WebhookOutboxInsertParams) (map[string]bool, error) {
	seen := map[string]bool{}
	apps := make([]string, 0, 1)
	for _, p := range ps {
		if !seen[p.AppID] {
			seen[p.AppID] = true
			apps = append(apps, p.AppID)
		}
	}
	rows, err := w.write.QueryContext(ctx, queryWebhookAppsWith, jsonStrings(apps))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	hooked := map[string]bool{}
	for rows.Next() {
		var app string
		if err := rows.Scan(&app); err != nil {
			return nil, err
		}
		hooked[app] = true
	}
	return hooked, rows.Err()
}

// WebhookOutboxClaim implements store.Executor.
func (e *executor) WebhookOutboxClaim(ctx context.Context, p *store.WebhookOutboxClaimParams) ([]*store.WebhookOutbox, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	rows, err := e.write.QueryContext(ctx, queryWebhookOutboxClaim,
		p.Holder, timeArg(p.Now), timeArg(p.LeaseUntil), p.Limit)
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
	var (
		res sql.Result
		err error
	)
	if p.Delivered {
		res, err = e.write.ExecContext(ctx, queryWebhookOutboxDelete, p.ID, p.Holder)
	} else {
		res, err = e.write.ExecContext(ctx, queryWebhookOutboxRetry,
			p.ID, p.Holder, p.Dead, timeArg(p.NextAttemptAt), p.LastError)
	}
	if err != nil {
		return false, fmt.Errorf("finish webhook event: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("finish webhook event: %w", err)
	}
	return n == 1, nil
}

// WebhookOutboxList implements store.Executor.
func (e *executor) WebhookOutboxList(ctx context.Context, p *store.WebhookOutboxListParams) ([]*store.WebhookOutbox, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	rows, err := e.read.QueryContext(ctx, queryWebhookOutboxList, p.WebhookID, p.State, p.BeforeID, p.Limit)
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
	var ids any
	if p.IDs != nil {
		b, err := json.Marshal(p.IDs)
		if err != nil {
			return 0, err
		}
		ids = string(b)
	}
	res, err := e.write.ExecContext(ctx, queryWebhookOutboxReplay, p.WebhookID, timeArg(p.Now), ids)
	if err != nil {
		return 0, fmt.Errorf("replay webhook events: %w", err)
	}
	return res.RowsAffected()
}

// WebhookOutboxCounts implements store.Executor.
func (e *executor) WebhookOutboxCounts(ctx context.Context, webhookID int64) (map[string]int64, error) {
	return e.countByState(ctx, "count webhook events", queryWebhookOutboxCounts, webhookID)
}

func scanSchedule(s scanner) (*store.Schedule, error) {
	var (
		r                                store.Schedule
		nextRunAt, lastRunAt, leaseUntil sql.NullInt64
		createdAt, updatedAt             sql.NullInt64
		leaseHolder                      sql.NullString
	)
	if err := s.Scan(&r.ID, &r.AppID, &r.Name, &r.Cron, &r.Timezone, &r.Message, &r.State,
		&nextRunAt, &lastRunAt, &leaseHolder, &leaseUntil, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	r.NextRunAt, r.LastRunAt, r.LeaseUntil = timeValue(nextRunAt), timeValue(lastRunAt), timeValue(leaseUntil)
	r.CreatedAt, r.UpdatedAt = timeValue(createdAt), timeValue(updatedAt)
	r.LeaseHolder = leaseHolder.String
	return &r, nil
}

func scanSchedules(rows *sql.Rows) ([]*store.Schedule, error) {
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

func scanWebhook(s scanner) (*store.Webhook, error) {
	var (
		w         store.Webhook
		createdAt sql.NullInt64
	)
	if err := s.Scan(&w.ID, &w.AppID, &w.URL, &w.SecretSealed, &createdAt); err != nil {
		return nil, err
	}
	w.CreatedAt = timeValue(createdAt)
	return &w, nil
}

// appIDsArg is a filter of appids as SQLite takes it: a JSON array, or NULL
// for no filter.
func appIDsArg(ids []string) (any, error) {
	if ids == nil {
		return nil, nil
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// BroadcastAbortStale implements store.Executor.
func (e *executor) BroadcastAbortStale(ctx context.Context, before, now time.Time) (int64, error) {
	res, err := e.write.ExecContext(ctx, queryBroadcastAbortStale, timeArg(before), timeArg(now))
	if err != nil {
		return 0, fmt.Errorf("abort stale broadcasts: %w", err)
	}
	return res.RowsAffected()
}

// scanOutboxRows reads outbox rows and closes rows.
func scanOutboxRows(rows *sql.Rows) ([]*store.WebhookOutbox, error) {
	defer rows.Close()
	out := []*store.WebhookOutbox{}
	for rows.Next() {
		var (
			o                                    store.WebhookOutbox
			nextAttemptAt, leaseUntil, createdAt sql.NullInt64
			leaseHolder                          sql.NullString
		)
		if err := rows.Scan(&o.ID, &o.WebhookID, &o.URL, &o.SecretSealed, &o.Event, &o.MessageID, &o.Payload,
			&o.State, &o.Attempts, &nextAttemptAt, &leaseHolder, &leaseUntil, &o.LastError, &createdAt); err != nil {
			return nil, err
		}
		o.NextAttemptAt, o.LeaseUntil, o.CreatedAt = timeValue(nextAttemptAt), timeValue(leaseUntil), timeValue(createdAt)
		o.LeaseHolder = leaseHolder.String
		out = append(out, &o)
	}
	return out, rows.Err()
}
