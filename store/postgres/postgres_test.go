package postgres_test

import (
	"os"
	"testing"

	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/store/storetest"
)

// TestDB runs the suite, each test in a fresh schema of the database named
// by WXNOTIFY_TEST_POSTGRES (testdb.NewPostgresDB opens the driver with
// postgres.Open and Options.Schema). Skipped when the variable is unset;
// fails when it is set and the server is unreachable.
func TestDB(t *testing.T) {
	t.Parallel()
	if os.Getenv(testdb.PostgresEnv) == "" {
		t.Skipf("set %s to run the PostgreSQL driver tests", testdb.PostgresEnv)
	}
	storetest.Exercise(t, testdb.NewPostgresDB)
}
