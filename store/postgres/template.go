package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxnotify/wxnotify/store"
)

var (
	queryTemplateLive        = queries.MustGet("TemplateLive")
	queryTemplateUpsert      = queries.MustGet("TemplateUpsert")
	queryTemplateSyncRemove  = queries.MustGet("TemplateSyncRemove")
	queryTemplateGet         = queries.MustGet("TemplateGet")
	queryTemplateList        = queries.MustGet("TemplateList")
	queryTemplateMarkDeleted = queries.MustGet("TemplateMarkDeleted")
	queryTemplateSetTruncate = queries.MustGet("TemplateSetTruncate")
	queryTemplateAliasSet    = queries.MustGet("TemplateAliasSet")
	queryTemplateAliasDelete = queries.MustGet("TemplateAliasDelete")
	queryTemplateAliasList   = queries.MustGet("TemplateAliasList")
)

// TemplateSync implements store.Executor in one transaction (on the pool,
// its own; in a transaction, that one).
func (e *executor) TemplateSync(ctx context.Context, p *store.TemplateSyncParams) (*store.TemplateSyncResult, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	res := &store.TemplateSyncResult{Added: []string{}, Removed: []string{}}
	err := e.atomic(ctx, "sync templates", func(q querier) error {
		ids := make([]string, 0, len(p.Templates))
		// In id order, so concurrent syncs of one app lock rows in one order.
		ts := slices.Clone(p.Templates)
		slices.SortFunc(ts, func(a, b *store.Template) int { return strings.Compare(a.TemplateID, b.TemplateID) })
		for _, t := range ts {
			added, err := upsertTemplate(ctx, q, p.AppID, t, p.Now)
			if err != nil {
				return err
			}
			if added {
				res.Added = append(res.Added, t.TemplateID)
			}
			ids = append(ids, t.TemplateID)
		}
		rows, err := q.Query(ctx, queryTemplateSyncRemove, p.AppID, p.Kind, ids, timeArg(p.Now))
		if err != nil {
			return fmt.Errorf("sync templates: %w", err)
		}
		removed, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("sync templates: %w", err)
		}
		res.Removed = append(res.Removed, removed...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(res.Added)
	slices.Sort(res.Removed)
	return res, nil
}

// upsertTemplate writes one listed template and reports whether it was
// added (new, or deleted before).
func upsertTemplate(ctx context.Context, q querier, appID string, t *store.Template, now time.Time) (bool, error) {
	var live bool
	err := q.QueryRow(ctx, queryTemplateLive, appID, t.TemplateID).Scan(&live)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("upsert template: %w", err)
	}
	keywords := t.Keywords
	if keywords == nil {
		keywords = []byte("[]")
	}
	_, err = q.Exec(ctx, queryTemplateUpsert, appID, t.TemplateID, t.Kind, t.Title, t.Content,
		string(keywords), t.Type, timeArg(now))
	if pgCode(err) == codeForeignKeyViolation {
		return false, store.ErrNotFound
	} else if err != nil {
		return false, fmt.Errorf("upsert template: %w", err)
	}
	return !live, nil
}

// TemplateUpsert implements store.Executor, in one transaction as
// TemplateSync.
func (e *executor) TemplateUpsert(ctx context.Context, appID string, t *store.Template, now time.Time) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return e.atomic(ctx, "upsert template", func(q querier) error {
		_, err := upsertTemplate(ctx, q, appID, t, now)
		return err
	})
}

// TemplateGet implements store.Executor.
func (e *executor) TemplateGet(ctx context.Context, appID, templateID string) (*store.Template, error) {
	t, err := scanTemplate(e.q.QueryRow(ctx, queryTemplateGet, appID, templateID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get template: %w", err)
	}
	return t, nil
}

// TemplateList implements store.Executor.
func (e *executor) TemplateList(ctx context.Context, appID string) ([]*store.Template, error) {
	rows, err := e.q.Query(ctx, queryTemplateList, appID)
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	defer rows.Close()
	out := []*store.Template{}
	for rows.Next() {
		t, err := scanTemplate(rows)
		if err != nil {
			return nil, fmt.Errorf("list templates: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	return out, nil
}

// TemplateMarkDeleted implements store.Executor.
func (e *executor) TemplateMarkDeleted(ctx context.Context, appID, templateID string, now time.Time) (bool, error) {
	tag, err := e.q.Exec(ctx, queryTemplateMarkDeleted, appID, templateID, timeArg(now))
	if err != nil {
		return false, fmt.Errorf("mark template deleted: %w", err)
	} else if tag.RowsAffected() == 1 {
		return true, nil
	}
	if _, err := e.TemplateGet(ctx, appID, templateID); err != nil {
		return false, err
	}
	return false, nil
}

// TemplateSetTruncate implements store.Executor.
func (e *executor) TemplateSetTruncate(ctx context.Context, appID, templateID string, keys []byte) error {
	if keys == nil {
		keys = []byte("[]")
	}
	tag, err := e.q.Exec(ctx, queryTemplateSetTruncate, appID, templateID, string(keys))
	if err != nil {
		return fmt.Errorf("set template truncation: %w", err)
	} else if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// TemplateAliasSet implements store.Executor.
func (e *executor) TemplateAliasSet(ctx context.Context, a *store.TemplateAlias) error {
	_, err := e.q.Exec(ctx, queryTemplateAliasSet, a.AppID, a.Alias, a.TemplateID)
	if pgCode(err) == codeForeignKeyViolation {
		return store.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("set template alias: %w", err)
	}
	return nil
}

// TemplateAliasDelete implements store.Executor.
func (e *executor) TemplateAliasDelete(ctx context.Context, appID, alias string) error {
	tag, err := e.q.Exec(ctx, queryTemplateAliasDelete, appID, alias)
	if err != nil {
		return fmt.Errorf("delete template alias: %w", err)
	} else if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// TemplateAliasList implements store.Executor.
func (e *executor) TemplateAliasList(ctx context.Context, appID string) ([]*store.TemplateAlias, error) {
	rows, err := e.q.Query(ctx, queryTemplateAliasList, appID)
	if err != nil {
		return nil, fmt.Errorf("list template aliases: %w", err)
	}
	defer rows.Close()
	out := []*store.TemplateAlias{}
	for rows.Next() {
		var a store.TemplateAlias
		if err := rows.Scan(&a.AppID, &a.Alias, &a.TemplateID); err != nil {
			return nil, fmt.Errorf("list template aliases: %w", err)
		}
		out = append(out, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list template aliases: %w", err)
	}
	return out, nil
}

func scanTemplate(row pgx.Row) (*store.Template, error) {
	var (
		t         store.Template
		deletedAt *time.Time
	)
	if err := row.Scan(&t.AppID, &t.TemplateID, &t.Kind, &t.Title, &t.Content, &t.Keywords, &t.Type, &t.Truncate,
		&t.SyncedAt, &deletedAt, &t.CreatedAt); err != nil {
		return nil, err
	}
	t.SyncedAt, t.CreatedAt = t.SyncedAt.UTC(), t.CreatedAt.UTC()
	t.DeletedAt, t.Deleted = timeValue(deletedAt), deletedAt != nil
	return &t, nil
}
