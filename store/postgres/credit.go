package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
)

var (
	queryCreditInsert        = queries.MustGet("CreditInsertBatch")
	queryCreditGet           = queries.MustGet("CreditGet")
	queryCreditSpend         = queries.MustGet("CreditSpend")
	queryCreditSpendWait     = queries.MustGet("CreditSpendWait")
	queryCreditUsable        = queries.MustGet("CreditUsable")
	queryCreditReserveFirsts = queries.MustGet("CreditReserveFirsts")
	queryCreditReserveOne    = queries.MustGet("CreditReserveOne")
	queryCreditRefund        = queries.MustGet("CreditRefund")
	queryCreditKill          = queries.MustGet("CreditKill")
	queryCreditKillTemplate  = queries.MustGet("CreditKillTemplate")
	queryCreditPurgeExpired  = queries.MustGet("CreditPurgeExpired")
	queryCreditPurgeGone     = queries.MustGet("CreditPurgeGone")
	queryCreditStocks        = queries.MustGet("CreditStocks")
	querySubscribeChoiceAdd  = queries.MustGet("SubscribeChoiceAdd")

	queryEventInsert      = queries.MustGet("EventInsert")
	queryEventListByMsgID = queries.MustGet("EventListByMsgID")
	queryEventFindSent    = queries.MustGet("EventFindSent")
)

// purgeBatch is how many rows one purge statement deletes at most.
const purgeBatch = 1000

// maxSpendWaits bounds the rounds of queryCreditSpendWait in one CreditSpend.
// Each round waits for a concurrent spender of the same user to commit, so
// in practice one or two rounds are enough.
const maxSpendWaits = 100

// CreditInsertBatch implements store.Executor in one statement.
func (e *executor) CreditInsertBatch(ctx context.Context, credits []*store.CreditInsertParams) (int, error) {
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
	tag, err := e.q.Exec(ctx, queryCreditInsert,
		appIDs, openIDs, kinds, templates, values, uses, obtained, expires, sources)
	if pgCode(err) == codeForeignKeyViolation {
		return 0, store.ErrNotFound
	} else if err != nil {
		return 0, fmt.Errorf("insert credits: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// CreditGet implements store.Executor.
func (e *executor) CreditGet(ctx context.Context, id int64) (*store.Credit, error) {
	c, err := scanCredit(e.q.QueryRow(ctx, queryCreditGet, id))
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
func (e *executor) CreditSpend(ctx context.Context, p *store.CreditSpendParams) (*store.Credit, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	cutoff, now := timeArg(p.Cutoff), timeArg(p.Now)
	spend := func(query, kind string) (*store.Credit, error) {
		c, err := scanCredit(e.q.QueryRow(ctx, query, p.AppID, p.OpenID, p.TemplateID, kind, cutoff, now))
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
			if err := e.q.QueryRow(ctx, queryCreditUsable,
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

// CreditReserveMany implements store.Executor in one pipelined batch (one
// round trip), without waiting for any lock: the first request of each
// credit group (app, user, template) goes through CreditReserveFirsts, one
// statement per distinct kind list (usually one or two), and every later
// request of a group through CreditReserveOne, in order, after them, so
// each sees the uses taken before it. Groups never share a credit, so the
// statements for first requests cannot take one twice.
func (e *executor) CreditReserveMany(ctx context.Context, ps []*store.CreditReserveParams) ([]store.CreditReserved, error) {
	res := make([]store.CreditReserved, len(ps))
	if len(ps) == 0 {
		return res, nil
	}
	type group struct{ appID, openID, templateID string }
	// firsts are the first requests of their groups with one kind list.
	type firsts struct {
		kinds             []string
		is                []int32
		apps, users, tpls []string
		cutoffs, nows     []pgtype.Timestamptz
	}
	var (
		seen   = make(map[group]bool, len(ps))
		byKind = map[string]*firsts{}
		order  []*firsts // in the order of first appearance
		rest   []int     // later requests of a group, in order
	)
	for i, p := range ps {
		g := group{p.AppID, p.OpenID, p.TemplateID}
		if seen[g] {
			rest = append(rest, i)
			continue
		}
		seen[g] = true
		key := strings.Join(p.Kinds, "\x00")
		f := byKind[key]
		if f == nil {
			f = &firsts{kinds: p.Kinds}
			byKind[key] = f
			order = append(order, f)
		}
		f.is, f.apps, f.users, f.tpls = append(f.is, int32(i)), append(f.apps, p.AppID), append(f.users, p.OpenID), append(f.tpls, p.TemplateID)
		f.cutoffs, f.nows = append(f.cutoffs, timestamptz(p.Cutoff)), append(f.nows, timestamptz(p.Now))
	}
	batch := &pgx.Batch{}
	for _, f := range order {
		batch.Queue(queryCreditReserveFirsts, f.is, f.apps, f.users, f.tpls, f.cutoffs, f.nows, f.kinds)
	}
	for _, i := range rest {
		p := ps[i]
		batch.Queue(queryCreditReserveOne, p.AppID, p.OpenID, p.TemplateID, p.Kinds, timeArg(p.Cutoff), timeArg(p.Now))
	}
	br := e.q.SendBatch(ctx, batch)
	defer br.Close()
	for range order {
		rows, err := br.Query()
		if err != nil {
			return nil, fmt.Errorf("reserve credits: %w", err)
		}
		for rows.Next() {
			var (
				i     int32
				id    *int64
				value *string
				busy  bool
			)
			if err := rows.Scan(&i, &id, &value, &busy); err != nil {
				rows.Close()
				return nil, fmt.Errorf("reserve credits: %w", err)
			}
			res[i] = reserved(id, value, busy)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("reserve credits: %w", err)
		}
	}
	for _, i := range rest {
		var (
			id    *int64
			value *string
			busy  bool
		)
		if err := br.QueryRow().Scan(&id, &value, &busy); err != nil {
			return nil, fmt.Errorf("reserve credits: %w", err)
		}
		res[i] = reserved(id, value, busy)
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("reserve credits: %w", err)
	}
	return res, nil
}

// reserved is one result of CreditReserveMany.
func reserved(id *int64, value *string, busy bool) store.CreditReserved {
	if id == nil {
		return store.CreditReserved{Busy: busy}
	}
	return store.CreditReserved{ID: *id, Value: stringValue(value)}
}

// CreditRefund implements store.Executor.
func (e *executor) CreditRefund(ctx context.Context, id int64) error {
	tag, err := e.q.Exec(ctx, queryCreditRefund, id)
	if err != nil {
		return fmt.Errorf("refund credit: %w", err)
	} else if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// CreditKill implements store.Executor.
func (e *executor) CreditKill(ctx context.Context, id int64, reason string) error {
	tag, err := e.q.Exec(ctx, queryCreditKill, id, reason)
	if err != nil {
		return fmt.Errorf("kill credit: %w", err)
	} else if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// CreditKillTemplate implements store.Executor.
func (e *executor) CreditKillTemplate(ctx context.Context, p *store.CreditKillTemplateParams) (int64, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	tag, err := e.q.Exec(ctx, queryCreditKillTemplate, p.AppID, p.OpenID, p.TemplateID, p.Reason)
	if err != nil {
		return 0, fmt.Errorf("kill template credits: %w", err)
	}
	return tag.RowsAffected(), nil
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
			tag, err := e.q.Exec(ctx, q.query, q.at, purgeBatch)
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
func (e *executor) CreditStocks(ctx context.Context, p *store.CreditStocksParams) ([]*store.CreditStock, error) {
	rows, err := e.q.Query(ctx, queryCreditStocks,
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
	if _, err := e.q.Exec(ctx, querySubscribeChoiceAdd,
		p.AppID, p.TemplateID, p.Choice, p.Count, timeArg(p.Now)); pgCode(err) == codeForeignKeyViolation {
		return store.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("add subscribe choice: %w", err)
	}
	return nil
}

// EventInsert implements store.Executor.
func (e *executor) EventInsert(ctx context.Context, ev *store.Event) (bool, error) {
	var id int64
	err := e.q.QueryRow(ctx, queryEventInsert,
		ev.AppID, ev.Type, ev.OpenID, ev.TemplateID, ev.Status, ev.PopupScene, ev.MsgID, ev.ErrorCode,
		timeArg(ev.CreateTime), timeArg(ev.ReceivedAt)).Scan(&id)
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
func (e *executor) EventListByMsgID(ctx context.Context, appID, msgID string) ([]*store.Event, error) {
	rows, err := e.q.Query(ctx, queryEventListByMsgID, appID, msgID)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	events := []*store.Event{}
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		events = append(events, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

// EventFindSent implements store.Executor: a lookup only.
func (e *executor) EventFindSent(ctx context.Context, p *store.EventFindSentParams) (*store.Event, error) {
	ev, err := scanEvent(e.q.QueryRow(ctx, queryEventFindSent, p.MessageID, p.Skew))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("find sent event: %w", err)
	}
	return ev, nil
}

func scanEvent(row pgx.Row) (*store.Event, error) {
	var ev store.Event
	if err := row.Scan(&ev.ID, &ev.AppID, &ev.Type, &ev.OpenID, &ev.TemplateID, &ev.Status, &ev.PopupScene,
		&ev.MsgID, &ev.ErrorCode, &ev.CreateTime, &ev.ReceivedAt); err != nil {
		return nil, err
	}
	ev.CreateTime, ev.ReceivedAt = ev.CreateTime.UTC(), ev.ReceivedAt.UTC()
	return &ev, nil
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
