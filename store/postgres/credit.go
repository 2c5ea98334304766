package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
)

// purgeBatch is how many rows one purge statement deletes at most.
const purgeBatch = 1000

// maxSpendWaits bounds the rounds of queryCreditSpendWait in one CreditSpend.
// Each round waits for a concurrent spender of the same user to commit, so
// in practice one or two rounds are enough.
const maxSpendWaits = 100

// CreditInsertBatch implements store.Executor in one statement.
func (db *DB) CreditInsertBatch(ctx context.Context, credits []*store.CreditInsertParams) (int, error) {
	for _, c := range credits {
		if err := c.Validate(); err != nil {
			return 0, err
		}
	}
	if len(credits) == 0 {
		return 0, nil
	}
	n := len(credits)
	var (
		appIDs, openIDs, kinds = make([]string, n), make([]string, n), make([]string, n)
		templates, values      = make([]string, n), make([]string, n)
		sources                = make([]string, n)
		uses                   = make([]int32, n)
		obtained, expires      = make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
	)
	for i, c := range credits {
		appIDs[i], openIDs[i], kinds[i] = c.AppID, c.OpenID, c.Kind
		templates[i], values[i], sources[i] = c.TemplateID, c.Value.Reveal(), c.Source
		uses[i] = int32(c.Uses)
		obtained[i] = timestamptz(c.ObtainedAt)
		expires[i] = timestamptz(c.ExpiresAt)
	}
	tag, err := db.pool.Exec(ctx, queryCreditInsert,
		appIDs, openIDs, kinds, templates, values, uses, obtained, expires, sources)
	if pgCode(err) == codeForeignKeyViolation {
		return 0, store.ErrNotFound
	} else if err != nil {
		return 0, fmt.Errorf("insert credits: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// CreditGet implements store.Executor.
func (db *DB) CreditGet(ctx context.Context, id int64) (*store.Credit, error) {
	c, err := scanCredit(db.pool.QueryRow(ctx, queryCreditGet, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get credit: %w", err)
	}
	return c, nil
}

// CreditSpend implements store.Executor. Per kind: one UPDATE that skips
// credits locked by concurrent spenders; if that finds nothing while a
// usable credit exists (it was locked), UPDATEs that wait for the lock,
// until one takes a use or none is usable.
func (db *DB) CreditSpend(ctx context.Context, p *store.CreditSpendParams) (*store.Credit, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	cutoff, now := timeArg(p.Cutoff), timeArg(p.Now)
	spend := func(query, kind string) (*store.Credit, error) {
		c, err := scanCredit(db.pool.QueryRow(ctx, query, p.AppID, p.OpenID, p.TemplateID, kind, cutoff, now))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		} else if err != nil {
			return nil, fmt.Errorf("spend credit: %w", err)
		}
		return c, nil
	}
	for _, kind := range p.Kinds {
		if c, err := spend(queryCreditSpend, kind); c != nil || err != nil {
			return c, err
		}
		for range maxSpendWaits {
			var usable bool
			if err := db.pool.QueryRow(ctx, queryCreditUsable,
				p.AppID, p.OpenID, p.TemplateID, kind, cutoff).Scan(&usable); err != nil {
				return nil, fmt.Errorf("spend credit: %w", err)
			}
			if !usable {
				break
			}
			if c, err := spend(queryCreditSpendWait, kind); c != nil || err != nil {
				return c, err
			}
		}
	}
	return nil, store.ErrNotFound
}

// CreditRefund implements store.Executor.
func (db *DB) CreditRefund(ctx context.Context, id int64) error {
	tag, err := db.pool.Exec(ctx, queryCreditRefund, id)
	if err != nil {
		return fmt.Errorf("refund credit: %w", err)
	} else if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// CreditKill implements store.Executor.
func (db *DB) CreditKill(ctx context.Context, id int64, reason string) error {
	tag, err := db.pool.Exec(ctx, queryCreditKill, id, reason)
	if err != nil {
		return fmt.Errorf("kill credit: %w", err)
	} else if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// CreditKillTemplate implements store.Executor.
func (db *DB) CreditKillTemplate(ctx context.Context, p *store.CreditKillTemplateParams) (int64, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	tag, err := db.pool.Exec(ctx, queryCreditKillTemplate, p.AppID, p.OpenID, p.TemplateID, p.Reason)
	if err != nil {
		return 0, fmt.Errorf("kill template credits: %w", err)
	}
	return tag.RowsAffected(), nil
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
			tag, err := db.pool.Exec(ctx, q.query, q.at, purgeBatch)
			if err != nil {
				return total, fmt.Errorf("purge credits: %w", err)
			}
			total += tag.RowsAffected()
			if tag.RowsAffected() < purgeBatch {
				break
			}
		}
	}
	return total, nil
}

// CreditStocks implements store.Executor.
func (db *DB) CreditStocks(ctx context.Context, p *store.CreditStocksParams) ([]*store.CreditStock, error) {
	rows, err := db.pool.Query(ctx, queryCreditStocks,
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
	if _, err := db.pool.Exec(ctx, querySubscribeChoiceAdd,
		p.AppID, p.TemplateID, p.Choice, p.Count, timeArg(p.Now)); pgCode(err) == codeForeignKeyViolation {
		return store.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("add subscribe choice: %w", err)
	}
	return nil
}

// EventInsert implements store.Executor.
func (db *DB) EventInsert(ctx context.Context, e *store.Event) (bool, error) {
	var id int64
	err := db.pool.QueryRow(ctx, queryEventInsert,
		e.AppID, e.Type, e.OpenID, e.TemplateID, e.Status, e.PopupScene, e.MsgID, e.ErrorCode,
		timeArg(e.CreateTime), timeArg(e.ReceivedAt)).Scan(&id)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case pgCode(err) == codeForeignKeyViolation:
		return false, store.ErrNotFound
	case err != nil:
		return false, fmt.Errorf("insert event: %w", err)
	}
	return true, nil
}

// EventListByMsgID implements store.Executor.
func (db *DB) EventListByMsgID(ctx context.Context, appID, msgID string) ([]*store.Event, error) {
	rows, err := db.pool.Query(ctx, queryEventListByMsgID, appID, msgID)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	events := []*store.Event{}
	for rows.Next() {
		var e store.Event
		if err := rows.Scan(&e.ID, &e.AppID, &e.Type, &e.OpenID, &e.TemplateID, &e.Status, &e.PopupScene,
			&e.MsgID, &e.ErrorCode, &e.CreateTime, &e.ReceivedAt); err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		e.CreateTime, e.ReceivedAt = e.CreateTime.UTC(), e.ReceivedAt.UTC()
		events = append(events, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

func scanCredit(row pgx.Row) (*store.Credit, error) {
	var (
		c                  store.Credit
		value              string
		expiresAt, spentAt *time.Time
		deadReason         *string
	)
	if err := row.Scan(&c.ID, &c.AppID, &c.OpenID, &c.Kind, &c.TemplateID, &value, &c.Uses, &c.UsesLeft,
		&c.ObtainedAt, &expiresAt, &spentAt, &c.Source, &deadReason); err != nil {
		return nil, err
	}
	c.Value = wxnotify.Secret(value)
	c.ObtainedAt = c.ObtainedAt.UTC()
	c.ExpiresAt, c.SpentAt = timeValue(expiresAt), timeValue(spentAt)
	c.DeadReason = stringValue(deadReason)
	return &c, nil
}

// timestamptz is timeArg for array elements.
func timestamptz(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t.Truncate(store.TimePrecision).UTC(), Valid: true}
}
