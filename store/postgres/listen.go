package postgres

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxnotify/wxnotify/store"
)

// dueChannel is the channel MessageInsertMany notifies on commit. It is one
// per database: deployments in separate schemas of one database wake each
// other needlessly, never wrongly.
const dueChannel = "wxnotify_due"

// ListenApplicationName names the listening connections in
// pg_stat_activity.
const ListenApplicationName = "wxnotify listen"

var _ store.DueListener = (*DB)(nil)

// ListenDue implements store.DueListener on a connection of its own (a
// pooled one would go back to the pool between waits and lose the LISTEN).
// A broken connection is replaced after a second; wake is called on every
// (re)connect, since notifications sent while it was down are lost.
func (db *DB) ListenDue(ctx context.Context, wake func(), logger *slog.Logger) error {
	for ctx.Err() == nil {
		err := db.listen(ctx, wake)
		if ctx.Err() != nil {
			break
		}
		logger.Warn("LISTEN connection lost; the fallback poll covers until it is back", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return ctx.Err()
}

func (db *DB) listen(ctx context.Context, wake func()) error {
	cfg := db.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = ListenApplicationName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+dueChannel); err != nil {
		return err
	}
	wake()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}
