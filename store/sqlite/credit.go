package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
)

// purgeBatch is how many rows one purge statement deletes at most.
const purgeBatch = 1000

// CreditInsertBatch implements store.Executor: one transaction, one prepared
// statement.
func (db *DB) CreditInsertBatch(ctx context.Context, credits []*store.CreditInsertParams) (int, error) {
	for _, c := range credits {
		if err := c.Validate(); err != nil {
			return 0, err
		}
	}
	if len(credits) == 0 {
		return 0, nil
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("insert credits: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, queryCreditInsert)
	if err != nil {
		return 0, fmt.Errorf("insert credits: %w", err)
	}
	defer stmt.Close()
	added := 0
	for _, c := range credits {
		res, err := stmt.ExecContext(ctx, c.AppID, c.OpenID, c.Kind, c.TemplateID, c.Value.Reveal(),
			c.Uses, timeArg(c.ObtainedAt), timeArg(c.ExpiresAt), c.Source)
		if isForeignKeyViolation(err) {
			return 0, store.ErrNotFound
		} else if err != nil {
			return 0, fmt.Errorf("insert credits: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("insert credits: %w", err)
		}
		added += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("insert credits: %w", err)
	}
	return added, nil
}

// CreditGet implements store.Executor.
func (db *DB) CreditGet(ctx context.Context, id int64) (*store.Credit, error) {
	c, err := scanCredit(db.read.QueryRowContext(ctx, queryCreditGet, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get credit: %w", err)
	}
	return c, nil
}

// CreditSpend implements store.Executor: one UPDATE per kind, until one
// takes a use.
func (db *DB) CreditSpend(ctx context.Context, p *store.CreditSpendParams) (*store.Credit, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	for _, kind := range p.Kinds {
		c, err := scanCredit(db.write.QueryRowContext(ctx, queryCreditSpend,
			p.AppID, p.OpenID, p.TemplateID, kind, timeArg(p.Cutoff), timeArg(p.Now)))
		if errors.Is(err, sql.ErrNoRows) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("spend credit: %w", err)
		}
		return c, nil
	}
	return nil, store.ErrNotFound
}

// CreditRefund implements store.Executor.
func (db *DB) CreditRefund(ctx context.Context, id int64) error {
	res, err := db.write.ExecContext(ctx, queryCreditRefund, id)
	if err != nil {
		return fmt.Errorf("refund credit: %w", err)
	}
	return oneRow(res, "refund credit")
}

// CreditKill implements store.Executor.
func (db *DB) CreditKill(ctx context.Context, id int64, reason string) error {
	res, err := db.write.ExecContext(ctx, queryCreditKill, id, reason)
	if err != nil {
		return fmt.Errorf("kill credit: %w", err)
	}
	return oneRow(res, "kill credit")
}

// CreditKillTemplate implements store.Executor.
func (db *DB) CreditKillTemplate(ctx context.Context, p *store.CreditKillTemplateParams) (int64, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	res, err := db.write.ExecContext(ctx, queryCreditKillTemplate, p.AppID, p.OpenID, p.TemplateID, p.Reason)
	if err != nil {
		return 0, fmt.Errorf("kill template credits: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("kill template credits: %w", err)
	}
	return n, nil
}

// CreditPurge implements store.Executor, in batches of purgeBatch rows.
func (db *DB) CreditPurge(ctx context.Context, p *store.CreditPurgeParams) (int64, error) {
	var total int64
	for _, q := range []struct {
		query string
		at    any
	}{
		{queryCreditPurgeExpired, timeArg(p.Now)},
		{queryCreditPurgeGone, timeArg(p.SpentBefore)},
	} {
		for {
			res, err := db.write.ExecContext(ctx, q.query, q.at, purgeBatch)
			if err != nil {
				return total, fmt.Errorf("purge credits: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return total, fmt.Errorf("purge credits: %w", err)
			}
			total += n
			if n < purgeBatch {
				break
			}
		}
	}
	return total, nil
}

// CreditStocks implements store.Executor.
func (db *DB) CreditStocks(ctx context.Context, p *store.CreditStocksParams) ([]*store.CreditStock, error) {
	rows, err := db.read.QueryContext(ctx, queryCreditStocks,
		p.AppID, p.OpenID, p.TemplateID, p.Kind, timeArg(p.Cutoff), timeArg(p.ExpiringBefore))
	if err != nil {
		return nil, fmt.Errorf("credit stocks: %w", err)
	}
	defer rows.Close()
	stocks := []*store.CreditStock{}
	for rows.Next() {
		var s store.CreditStock
		if err := rows.Scan(&s.AppID, &s.OpenID, &s.Kind, &s.TemplateID, &s.Credits, &s.Uses, &s.Rejections); err != nil {
			return nil, fmt.Errorf("credit stocks: %w", err)
		}
		stocks = append(stocks, &s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("credit stocks: %w", err)
	}
	return stocks, nil
}

// SubscribeChoiceAdd implements store.Executor.
func (db *DB) SubscribeChoiceAdd(ctx context.Context, p *store.SubscribeChoiceAddParams) error {
	if _, err := db.write.ExecContext(ctx, querySubscribeChoiceAdd,
		p.AppID, p.TemplateID, p.Choice, p.Count, timeArg(p.Now)); isForeignKeyViolation(err) {
		return store.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("add subscribe choice: %w", err)
	}
	return nil
}

// EventInsert implements store.Executor.
func (db *DB) EventInsert(ctx context.Context, e *store.Event) (bool, error) {
	var id int64
	err := db.write.QueryRowContext(ctx, queryEventInsert,
		e.AppID, e.Type, e.OpenID, e.TemplateID, e.Status, e.PopupScene, e.MsgID, e.ErrorCode,
		timeArg(e.CreateTime), timeArg(e.ReceivedAt)).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case isForeignKeyViolation(err):
		return false, store.ErrNotFound
	case err != nil:
		return false, fmt.Errorf("insert event: %w", err)
	}
	return true, nil
}

// EventListByMsgID implements store.Executor.
func (db *DB) EventListByMsgID(ctx context.Context, appID, msgID string) ([]*store.Event, error) {
	rows, err := db.read.QueryContext(ctx, queryEventListByMsgID, appID, msgID)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	events := []*store.Event{}
	for rows.Next() {
		var (
			e                      store.Event
			createTime, receivedAt sql.NullInt64
		)
		if err := rows.Scan(&e.ID, &e.AppID, &e.Type, &e.OpenID, &e.TemplateID, &e.Status, &e.PopupScene,
			&e.MsgID, &e.ErrorCode, &createTime, &receivedAt); err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		e.CreateTime, e.ReceivedAt = timeValue(createTime), timeValue(receivedAt)
		events = append(events, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

func scanCredit(s scanner) (*store.Credit, error) {
	var (
		c                              store.Credit
		value                          string
		obtainedAt, expiresAt, spentAt sql.NullInt64
		deadReason                     sql.NullString
	)
	if err := s.Scan(&c.ID, &c.AppID, &c.OpenID, &c.Kind, &c.TemplateID, &value, &c.Uses, &c.UsesLeft,
		&obtainedAt, &expiresAt, &spentAt, &c.Source, &deadReason); err != nil {
		return nil, err
	}
	c.Value = wxnotify.Secret(value)
	c.ObtainedAt, c.ExpiresAt, c.SpentAt = timeValue(obtainedAt), timeValue(expiresAt), timeValue(spentAt)
	c.DeadReason = deadReason.String
	return &c, nil
}
