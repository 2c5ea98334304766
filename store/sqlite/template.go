package sqlite

import (
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
	queryTemplateUpsert      = queries.MustGet("TemplateUpsert")
	queryTemplateLive        = queries.MustGet("TemplateLive")
	queryTemplateSyncRemove  = queries.MustGet("TemplateSyncRemove")
	queryTemplateGet         = queries.MustGet("TemplateGet")
	queryTemplateList        = queries.MustGet("TemplateList")
	queryTemplateMarkDeleted = queries.MustGet("TemplateMarkDeleted")
	queryTemplateSetTruncate = queries.MustGet("TemplateSetTruncate")
	queryTemplateAliasSet    = queries.MustGet("TemplateAliasSet")
	queryTemplateAliasDelete = queries.MustGet("TemplateAliasDelete")
	queryTemplateAliasList   = queries.MustGet("TemplateAliasList")
)

// TemplateSync implements store.Executor, all or none (a transaction of
// its own on the pool, a savepoint in one).
func (e *executor) TemplateSync(ctx context.Context, p *store.TemplateSyncParams) (*store.TemplateSyncResult, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	res := &store.TemplateSyncResult{Added: []string{}, Removed: []string{}}
	err := e.atomic(ctx, func(w *executor) error {
		ids := make([]string, 0, len(p.Templates))
		for _, t := range p.Templates {
			added, err := upsertTemplate(ctx, w.write, p.AppID, t, p.Now)
			if err != nil {
				return err
			}
			if added {
				res.Added = append(res.Added, t.TemplateID)
			}
			ids = append(ids, t.TemplateID)
		}
		js, _ := json.Marshal(ids) // cannot fail on []string
		rows, err := w.write.QueryContext(ctx, queryTemplateSyncRemove, p.AppID, p.Kind, string(js), timeArg(p.Now))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			res.Removed = append(res.Removed, id)
		}
		return rows.Err()
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("sync templates: %w", err)
	}
	slices.Sort(res.Added)
	slices.Sort(res.Removed)
	return res, nil
}

// upsertTemplate writes one listed template and reports whether it was
// added (new, or deleted before), or store.ErrNotFound. Its two
// statements need a transaction (or a savepoint) around them.
func upsertTemplate(ctx context.Context, q querier, appID string, t *store.Template, now time.Time) (bool, error) {
	var live bool
	err := q.QueryRowContext(ctx, queryTemplateLive, appID, t.TemplateID).Scan(&live)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	keywords := t.Keywords
	if keywords == nil {
		keywords = []byte("[]")
	}
	_, err = q.ExecContext(ctx, queryTemplateUpsert, appID, t.TemplateID, t.Kind, t.Title, t.Content,
		string(keywords), t.Type, timeArg(now))
	if isForeignKeyViolation(err) {
		return false, store.ErrNotFound
	} else if err != nil {
		return false, err
	}
	return !live, nil
}

// TemplateUpsert implements store.Executor, in a transaction of its own on
// the pool (a savepoint in one).
func (e *executor) TemplateUpsert(ctx context.Context, appID string, t *store.Template, now time.Time) error {
	if err := t.Validate(); err != nil {
		return err
	}
	err := e.atomic(ctx, func(w *executor) error {
		_, err := upsertTemplate(ctx, w.write, appID, t, now)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("upsert template: %w", err)
	}
	return nil
}

// TemplateGet implements store.Executor.
func (e *executor) TemplateGet(ctx context.Context, appID, templateID string) (*store.Template, error) {
	t, err := scanTemplate(e.read.QueryRowContext(ctx, queryTemplateGet, appID, templateID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get template: %w", err)
	}
	return t, nil
}

// TemplateList implements store.Executor.
func (e *executor) TemplateList(ctx context.Context, appID string) ([]*store.Template, error) {
	rows, err := e.read.QueryContext(ctx, queryTemplateList, appID)
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
	res, err := e.write.ExecContext(ctx, queryTemplateMarkDeleted, appID, templateID, timeArg(now))
	if err != nil {
		return false, fmt.Errorf("mark template deleted: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, fmt.Errorf("mark template deleted: %w", err)
	} else if n == 1 {
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
	res, err := e.write.ExecContext(ctx, queryTemplateSetTruncate, appID, templateID, string(keys))
	if err != nil {
		return fmt.Errorf("set template truncation: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set template truncation: %w", err)
	} else if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// TemplateAliasSet implements store.Executor.
func (e *executor) TemplateAliasSet(ctx context.Context, a *store.TemplateAlias) error {
	_, err := e.write.ExecContext(ctx, queryTemplateAliasSet, a.AppID, a.Alias, a.TemplateID)
	if isForeignKeyViolation(err) {
		return store.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("set template alias: %w", err)
	}
	return nil
}

// TemplateAliasDelete implements store.Executor.
func (e *executor) TemplateAliasDelete(ctx context.Context, appID, alias string) error {
	res, err := e.write.ExecContext(ctx, queryTemplateAliasDelete, appID, alias)
	if err != nil {
		return fmt.Errorf("delete template alias: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete template alias: %w", err)
	} else if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// TemplateAliasList implements store.Executor.
func (e *executor) TemplateAliasList(ctx context.Context, appID string) ([]*store.TemplateAlias, error) {
	rows, err := e.read.QueryContext(ctx, queryTemplateAliasList, appID)
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

func scanTemplate(row interface{ Scan(...any) error }) (*store.Template, error) {
	var (
		t                              store.Template
		keywords, truncate             string
		syncedAt, deletedAt, createdAt sql.NullInt64
	)
	if err := row.Scan(&t.AppID, &t.TemplateID, &t.Kind, &t.Title, &t.Content, &keywords, &t.Type, &truncate,
		&syncedAt, &deletedAt, &createdAt); err != nil {
		return nil, err
	}
	t.Keywords, t.Truncate = []byte(keywords), []byte(truncate)
	t.SyncedAt, t.DeletedAt, t.CreatedAt = timeValue(syncedAt), timeValue(deletedAt), timeValue(createdAt)
	t.Deleted = deletedAt.Valid
	return &t, nil
}
