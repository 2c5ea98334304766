package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
)

var (
	queryCreditInsert       = queries.MustGet("CreditInsert")
	queryCreditGet          = queries.MustGet("CreditGet")
	queryCreditSpend        = queries.MustGet("CreditSpend")
	queryCreditReserve      = queries.MustGet("CreditReserve")
	queryCreditRefund       = queries.MustGet("CreditRefund")
	queryCreditKill         = queries.MustGet("CreditKill")
	queryCreditKillTemplate = queries.MustGet("CreditKillTemplate")
	queryCreditPurgeExpired = queries.MustGet("CreditPurgeExpired")
	queryCreditPurgeGone    = queries.MustGet("CreditPurgeGone")
	queryCreditStocks       = queries.MustGet("CreditStocks")
	querySubscribeChoiceAdd = queries.MustGet("SubscribeChoiceAdd")
)

// purgeBatch is how many rows one purge statement deletes at most.
const purgeBatch = 1000

// CreditInsertBatch implements store.Executor: one prepared statement, all
// or none (a transaction of its own on the pool, a savepoint in one).
func (e *executor) CreditInsertBatch(ctx context.Context, credits []*store.CreditInsertParams) (int, error) {
	for _, c := range credits {
		if err := c.Validate(); err != nil {
			return 0, err
		}
	}
	if len(credits) == 0 {
		return 0, nil
	}
	added := 0
	err := e.atomic(ctx, func(w *executor) error {
		stmt, err := w.write.PrepareContext(ctx, queryCreditInsert)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, c := range credits {
			res, err := stmt.ExecContext(ctx, c.AppID, c.OpenID, c.Kind, c.TemplateID, c.Value.Reveal(),
				c.Uses, timeArg(c.ObtainedAt), timeArg(c.ExpiresAt), c.Source)
			if isForeignKeyViolation(err) {
				return store.ErrNotFound
			} else if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			added += int(n)
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return 0, store.ErrNotFound
	} else if err != nil {
		return 0, fmt.Errorf("insert credits: %w", err)
	}
	return added, nil
}

// CreditGet implements store.Executor.
func (e *executor) CreditGet(ctx context.Context, id int64) (*store.Credit, error) {
	c, err := scanCredit(e.read.QueryRowContext(ctx, queryCreditGet, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get credit: %w", err)
	}
	return c, nil
}

// CreditSpend implements store.Executor: one UPDATE per kind, until one
// takes a use.
func (e *executor) CreditSpend(ctx context.Context, p *store.CreditSpendParams) (*store.Credit, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	for _, kind := range p.Kinds {
		c, err := scanCredit(e.write.QueryRowContext(ctx, queryCreditSpend,
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

// CreditReserveMany implements store.Executor: one statement per p and
// kind tried, in order on one connection (so each sees the uses the earlier ones took), all
// or none. Busy is never set: no other transaction can hold a credit while
// this one writes (SQLite has one writer).
func (e *executor) CreditReserveMany(ctx context.Context, ps []*store.CreditReserveParams) ([]store.CreditReserved, error) {
	for _, p := range ps {
		if len(p.Kinds) == 0 {
			return nil, fmt.Errorf("reserve credits: Kinds required")
		}
	}
	res := make([]store.CreditReserved, len(ps))
	if len(ps) == 0 {
		return res, nil
	}
	err := e.atomic(ctx, func(w *executor) error {
		stmt, err := w.write.PrepareContext(ctx, queryCreditReserve)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, p := range ps {
			for _, kind := range p.Kinds {
				err := stmt.QueryRowContext(ctx, p.AppID, p.OpenID, p.TemplateID, kind,
					timeArg(p.Cutoff), timeArg(p.Now)).Scan(&res[i].ID, &res[i].Value)
				if errors.Is(err, sql.ErrNoRows) {
					continue
				} else if err != nil {
					return err
				}
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reserve credits: %w", err)
	}
	return res, nil
}

// CreditRefund implements store.Executor.
func (e *executor) CreditRefund(ctx context.Context, id int64) error {
	res, err := e.write.ExecContext(ctx, queryCreditRefund, id)
	if err != nil {
		return fmt.Errorf("refund credit: %w", err)
	}
	return oneRow(res, "refund credit")
}

// CreditKill implements store.Executor.
func (e *executor) CreditKill(ctx context.Context, id int64, reason string) error {
	res, err := e.write.ExecContext(ctx, queryCreditKill, id, reason)
	if err != nil {
		return fmt.Errorf("kill credit: %w", err)
	}
	return oneRow(res, "kill credit")
}

// CreditKillTemplate implements store.Executor.
func (e *executor) CreditKillTemplate(ctx context.Context, p *store.CreditKillTemplateParams) (int64, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	res, err := e.write.ExecContext(ctx, queryCreditKillTemplate, p.AppID, p.OpenID, p.TemplateID, p.Reason)
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
func (e *executor) CreditPurge(ctx context.Context, p *store.CreditPurgeParams) (int64, error) {
	var total int64
	for _, q := range []struct {
		query string
		at    any
	}{
		{queryCreditPurgeExpired, timeArg(p.Now)},
		{queryCreditPurgeGone, timeArg(p.SpentBefore)},
	} {
		for {
			res, err := e.write.ExecContext(ctx, q.query, q.at, purgeBatch)
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
func (e *executor) CreditStocks(ctx context.Context, p *store.CreditStocksParams) ([]*store.CreditStock, error) {
	rows, err := e.read.QueryContext(ctx, queryCreditStocks,
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
func (e *executor) SubscribeChoiceAdd(ctx context.Context, p *store.SubscribeChoiceAddParams) error {
	if _, err := e.write.ExecContext(ctx, querySubscribeChoiceAdd,
		p.AppID, p.TemplateID, p.Choice, p.Count, timeArg(p.Now)); isForeignKeyViolation(err) {
		return store.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("add subscribe choice: %w", err)
	}
	return nil
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
