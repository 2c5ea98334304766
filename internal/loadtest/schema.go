package loadtest

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
)

// NewSchema creates a fresh schema prefix_<pid>_<n> in the PostgreSQL
// database dsn names, for one run's tables, and returns its name and how
// to drop it (with everything in it). A run gets a fresh database so that
// no earlier run's rows or bloat weigh on its figures.
func NewSchema(ctx context.Context, dsn, prefix string) (schema string, drop func() error, err error) {
	schema = fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9)
	ident := pgx.Identifier{schema}.Sanitize()
	if err := pgExec(ctx, dsn, "CREATE SCHEMA "+ident); err != nil {
		return "", nil, err
	}
	drop = func() error {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return pgExec(dctx, dsn, "DROP SCHEMA "+ident+" CASCADE")
	}
	return schema, drop, nil
}

func pgExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}
