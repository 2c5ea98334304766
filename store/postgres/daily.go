package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/wxnotify/wxnotify/store"
)

var (
	queryDailySendAdd  = queries.MustGet("DailySendAdd")
	queryDailySendList = queries.MustGet("DailySendList")
)

// DailySendAdd implements store.Executor in one statement.
func (e *executor) DailySendAdd(ctx context.Context, ds []*store.DailySend) error {
	if len(ds) == 0 {
		return nil
	}
	for _, d := range ds {
		if err := d.Validate(); err != nil {
			return err
		}
	}
	ds = slices.Clone(ds)
	slices.SortFunc(ds, func(a, b *store.DailySend) int {
		return cmp.Or(cmp.Compare(a.AppID, b.AppID), cmp.Compare(a.Day, b.Day), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Holder, b.Holder))
	})
	n := len(ds)
	apps, days, kinds, holders, sent := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]int64, n)
	for i, d := range ds {
		apps[i], days[i], kinds[i], holders[i], sent[i] = d.AppID, d.Day, d.Kind, d.Holder, d.Sent
	}
	if _, err := e.q.Exec(ctx, queryDailySendAdd, apps, days, kinds, holders, sent); pgCode(err) == codeForeignKeyViolation {
		return store.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("add daily sends: %w", err)
	}
	return nil
}

// DailySendList implements store.Executor.
func (e *executor) DailySendList(ctx context.Context, day string) ([]*store.DailySend, error) {
	rows, err := e.q.Query(ctx, queryDailySendList, day)
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
