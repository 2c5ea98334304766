package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxnotify/wxnotify/store"
)

// The SQL of the session and callback methods; it matches
// store/sqlite/session.go statement for statement.

const sessionColumns = `token_hash, appid, openid, session_key_sealed, created_at, expires_at`

const querySessionInsert = `
INSERT INTO mp_session (` + sessionColumns + `)
VALUES ($1, $2, $3, $4, $5, $6)`

const querySessionGet = `SELECT ` + sessionColumns + ` FROM mp_session WHERE token_hash = $1`

const querySessionDeleteExpired = `DELETE FROM mp_session WHERE expires_at <= $1`

const appCallbackColumns = `appid, token_sealed, aes_key_sealed, mode, updated_at`

const queryAppCallbackSet = `
INSERT INTO app_callback (` + appCallbackColumns + `)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (appid) DO UPDATE
   SET token_sealed   = excluded.token_sealed,
       aes_key_sealed = excluded.aes_key_sealed,
       mode           = excluded.mode,
       updated_at     = excluded.updated_at`

const queryAppCallbackGet = `SELECT ` + appCallbackColumns + ` FROM app_callback WHERE appid = $1`

const queryAppCallbackDelete = `DELETE FROM app_callback WHERE appid = $1`

// SessionInsert implements store.Executor.
func (db *DB) SessionInsert(ctx context.Context, p *store.SessionInsertParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	_, err := db.pool.Exec(ctx, querySessionInsert,
		p.TokenHash, p.AppID, p.OpenID, p.SessionKeySealed, timeArg(p.Now), timeArg(p.ExpiresAt))
	switch pgCode(err) {
	case codeUniqueViolation:
		return store.ErrConflict
	case codeForeignKeyViolation:
		return store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// SessionGet implements store.Executor.
func (db *DB) SessionGet(ctx context.Context, tokenHash []byte) (*store.Session, error) {
	var s store.Session
	err := db.pool.QueryRow(ctx, querySessionGet, tokenHash).Scan(
		&s.TokenHash, &s.AppID, &s.OpenID, &s.SessionKeySealed, &s.CreatedAt, &s.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	s.CreatedAt = s.CreatedAt.UTC()
	s.ExpiresAt = s.ExpiresAt.UTC()
	return &s, nil
}

// SessionDeleteExpired implements store.Executor.
func (db *DB) SessionDeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, querySessionDeleteExpired, timeArg(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}

// AppCallbackSet implements store.Executor.
func (db *DB) AppCallbackSet(ctx context.Context, c *store.AppCallback) error {
	_, err := db.pool.Exec(ctx, queryAppCallbackSet,
		c.AppID, c.TokenSealed, c.AESKeySealed, c.Mode, timeArg(c.UpdatedAt))
	if pgCode(err) == codeForeignKeyViolation {
		return store.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("set app callback: %w", err)
	}
	return nil
}

// AppCallbackGet implements store.Executor.
func (db *DB) AppCallbackGet(ctx context.Context, appID string) (*store.AppCallback, error) {
	var c store.AppCallback
	err := db.pool.QueryRow(ctx, queryAppCallbackGet, appID).Scan(
		&c.AppID, &c.TokenSealed, &c.AESKeySealed, &c.Mode, &c.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get app callback: %w", err)
	}
	c.UpdatedAt = c.UpdatedAt.UTC()
	return &c, nil
}

// AppCallbackDelete implements store.Executor.
func (db *DB) AppCallbackDelete(ctx context.Context, appID string) error {
	tag, err := db.pool.Exec(ctx, queryAppCallbackDelete, appID)
	if err != nil {
		return fmt.Errorf("delete app callback: %w", err)
	} else if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}
