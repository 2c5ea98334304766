package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

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
	_, err = e.write.ExecContext(ctx, queryAPIKeyInsert, k.ID, k.Name, k.SecretHash, string(apps), timeArg(k.CreatedAt))
	if isUniqueViolation(err) {
		return store.ErrConflict
	} else if err != nil {
		return fmt.Errorf("insert api key: %w", err)
	}
	return nil
}

// APIKeyGet implements store.Executor.
func (e *executor) APIKeyGet(ctx context.Context, id string) (*store.APIKey, error) {
	k, err := scanAPIKey(e.read.QueryRowContext(ctx, queryAPIKeyGet, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get api key: %w", err)
	}
	return k, nil
}

// APIKeyList implements store.Executor.
func (e *executor) APIKeyList(ctx context.Context) ([]*store.APIKey, error) {
	rows, err := e.read.QueryContext(ctx, queryAPIKeyList)
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
	res, err := e.write.ExecContext(ctx, queryAPIKeyDelete, id)
	if err != nil {
		return fmt.Errorf("delete api key: %w", err)
	}
	return oneRow(res, "delete api key")
}

func scanAPIKey(row interface{ Scan(...any) error }) (*store.APIKey, error) {
	var k store.APIKey
	var apps string
	var created sql.NullInt64
	if err := row.Scan(&k.ID, &k.Name, &k.SecretHash, &apps, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(apps), &k.Apps); err != nil {
		return nil, fmt.Errorf("api key %s: apps: %w", k.ID, err)
	}
	k.CreatedAt = timeValue(created)
	return &k, nil
}
