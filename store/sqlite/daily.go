package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wxnotify/wxnotify/store"
)

var (
	queryDailySendAdd  = queries.MustGet("DailySendAdd")
	queryDailySendList = queries.MustGet("DailySendList")
)

// DailySendAdd implements store.Executor.
func (e *executor) DailySendAdd(ctx context.Context, ds []*store.DailySend) error {
	if len(ds) == 0 {
		return nil
	}
	rows := make([][5]any, len(ds))
	for i, d := range ds {
		if err := d.Validate(); err != nil {
			return err
		}
		rows[i] = [5]any{d.AppID, d.Day, d.Kind, d.Holder, d.Sent}
	}
	js, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("add daily sends: %w", err)
	}
	if _, err := e.write.ExecContext(ctx, queryDailySendAdd, string(js)); isForeignKeyViolation(err) {
		return store.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("add daily sends: %w", err)
	}
	return nil
}

// DailySendList implements store.Executor.
func (e *executor) DailySendList(ctx context.Context, day string) ([]*store.DailySend, error) {
	rows, err := e.read.QueryContext(ctx, queryDailySendList, day)
	if err != nil {
		return nil, fmt.Errorf("list daily sends: %w", err)
	}
	defer rows.Close()
	var out []*store.DailySend
	for rows.Next() {
		d := &store.DailySend{}
		if err := rows.Scan(&d.AppID, &d.Day, &d.Kind, &d.Sent); err != nil {
			return nil, fmt.Errorf("list daily sends: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
