package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxnotify/wxnotify/store"
)

var (
	queryAPIKeyInsert = queries.MustGet("APIKeyInsert")
	queryAPIKeyGet    = queries.MustGet("APIKeyGet")
	queryAPIKeyList   = queries.MustGet("APIKeyList")
	queryAPIKeyDelete = queries.MustGet("APIKeyDelete")
)

// APIKeyInsert implements store.Executor.
func (e *executor) APIKeyInsert(ctx context.Context, k *store.APIKey) error {
	apps, err := json.Marshal(k.Apps)
	if err != nil {
		return err
	}
	_, err = e.q.Exec(ctx, queryAPIKeyInsert, k.ID, k.Name, k.SecretHash, string(apps), timeArg(k.CreatedAt))
	if pgCode(err) == codeUniqueViolation {
		return store.ErrConflict
	} else if err != nil {
		return fmt.Errorf("insert api key: %w", err)
	}
	return nil
}

// APIKeyGet implements store.Executor.
func (e *executor) APIKeyGet(ctx context.Context, id string) (*store.APIKey, error) {
	k, err := scanAPIKey(e.q.QueryRow(ctx, queryAPIKeyGet, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get api key: %w", err)
	}
	return k, nil
}

// APIKeyList implements store.Executor.
func (e *executor) APIKeyList(ctx context.Context) ([]*store.APIKey, error) {
	rows, err := e.q.Query(ctx, queryAPIKeyList)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	keys := []*store.APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list api keys: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// APIKeyDelete implements store.Executor.
func (e *executor) APIKeyDelete(ctx context.Context, id string) error {
	tag, err := e.q.Exec(ctx, queryAPIKeyDelete, id)
	if err != nil {
		return fmt.Errorf("delete api key: %w", err)
	} else if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func scanAPIKey(row pgx.Row) (*store.APIKey, error) {
	var k store.APIKey
	var apps string
	var created *time.Time
	if err := row.Scan(&k.ID, &k.Name, &k.SecretHash, &apps, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(apps), &k.Apps); err != nil {
		return nil, fmt.Errorf("api key %s: apps: %w", k.ID, err)
	}
	k.CreatedAt = timeValue(created)
	return &k, nil
}
