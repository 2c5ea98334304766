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

var _ store.TemplateStore = (*DB)(nil)

// TemplateSync implements store.TemplateStore in one write transaction.
func (db *DB) TemplateSync(ctx context.Context, p *store.TemplateSyncParams) (*store.TemplateSyncResult, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sync templates: %w", err)
	}
	defer tx.Rollback()
	res := &store.TemplateSyncResult{Added: []string{}, Removed: []string{}}
	ids := make([]string, 0, len(p.Templates))
	for _, t := range p.Templates {
		added, err := upsertTemplate(ctx, tx, p.AppID, t, p.Now)
		if err != nil {
			return nil, err
		}
		if added {
			res.Added = append(res.Added, t.TemplateID)
		}
		ids = append(ids, t.TemplateID)
	}
	js, _ := json.Marshal(ids) // cannot fail on []string
	rows, err := tx.QueryContext(ctx, queryTemplateSyncRemove, p.AppID, p.Kind, string(js), timeArg(p.Now))
	if err != nil {
		return nil, fmt.Errorf("sync templates: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sync templates: %w", err)
		}
		res.Removed = append(res.Removed, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("sync templates: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sync templates: %w", err)
	}
	slices.Sort(res.Added)
	slices.Sort(res.Removed)
	return res, nil
}

// upsertTemplate writes one listed template and reports whether it was
// added (new, or deleted before).
func upsertTemplate(ctx context.Context, tx *sql.Tx, appID string, t *store.Template, now time.Time) (bool, error) {
	var live bool
	err := tx.QueryRowContext(ctx, queryTemplateLive, appID, t.TemplateID).Scan(&live)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("upsert template: %w", err)
	}
	keywords := t.Keywords
	if keywords == nil {
		keywords = []byte("[]")
	}
	_, err = tx.ExecContext(ctx, queryTemplateUpsert, appID, t.TemplateID, t.Kind, t.Title, t.Content,
		string(keywords), t.Type, timeArg(now))
	if isForeignKeyViolation(err) {
		return false, store.ErrNotFound
	} else if err != nil {
		return false, fmt.Errorf("upsert template: %w", err)
	}
	return !live, nil
}

// TemplateUpsert implements store.TemplateStore.
func (db *DB) TemplateUpsert(ctx context.Context, appID string, t *store.Template, now time.Time) error {
	if err := t.Validate(); err != nil {
		return err
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("upsert template: %w", err)
	}
	defer tx.Rollback()
	if _, err := upsertTemplate(ctx, tx, appID, t, now); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("upsert template: %w", err)
	}
	return nil
}

// TemplateGet implements store.TemplateStore.
func (db *DB) TemplateGet(ctx context.Context, appID, templateID string) (*store.Template, error) {
	t, err := scanTemplate(db.read.QueryRowContext(ctx, queryTemplateGet, appID, templateID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get template: %w", err)
	}
	return t, nil
}

// TemplateList implements store.TemplateStore.
func (db *DB) TemplateList(ctx context.Context, appID string) ([]*store.Template, error) {
	rows, err := db.read.QueryContext(ctx, queryTemplateList, appID)
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

// TemplateMarkDeleted implements store.TemplateStore.
func (db *DB) TemplateMarkDeleted(ctx context.Context, appID, templateID string, now time.Time) (bool, error) {
	res, err := db.write.ExecContext(ctx, queryTemplateMarkDeleted, appID, templateID, timeArg(now))
	if err != nil {
		return false, fmt.Errorf("mark template deleted: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, fmt.Errorf("mark template deleted: %w", err)
	} else if n == 1 {
		return true, nil
	}
	if _, err := db.TemplateGet(ctx, appID, templateID); err != nil {
		return false, err
	}
	return false, nil
}

// TemplateSetTruncate implements store.TemplateStore.
func (db *DB) TemplateSetTruncate(ctx context.Context, appID, templateID string, keys []byte) error {
	if keys == nil {
		keys = []byte("[]")
	}
	res, err := db.write.ExecContext(ctx, queryTemplateSetTruncate, appID, templateID, string(keys))
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

// TemplateAliasSet implements store.TemplateStore.
func (db *DB) TemplateAliasSet(ctx context.Context, a *store.TemplateAlias) error {
	_, err := db.write.ExecContext(ctx, queryTemplateAliasSet, a.AppID, a.Alias, a.TemplateID)
	if isForeignKeyViolation(err) {
		return store.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("set template alias: %w", err)
	}
	return nil
}

// TemplateAliasDelete implements store.TemplateStore.
func (db *DB) TemplateAliasDelete(ctx context.Context, appID, alias string) error {
	res, err := db.write.ExecContext(ctx, queryTemplateAliasDelete, appID, alias)
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

// TemplateAliasList implements store.TemplateStore.
func (db *DB) TemplateAliasList(ctx context.Context, appID string) ([]*store.TemplateAlias, error) {
	rows, err := db.read.QueryContext(ctx, queryTemplateAliasList, appID)
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

// MessageFailTemplate implements store.TemplateStore in one write
// transaction.
func (db *DB) MessageFailTemplate(ctx context.Context, appID, templateID, reason string, now time.Time) ([]int64, error) {
	return db.endMessages(ctx, "fail template messages",
		queryMessageFailingTemplate, []any{appID, templateID},
		queryMessageFailTemplate, func(ids string) []any { return []any{timeArg(now), reason, ids} })
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
