package sqlite

// This file is the only one that knows which Go SQLite driver is in use
// (modernc.org/sqlite, pure Go). To swap in another one (for example
// github.com/mattn/go-sqlite3), change the import, driverName, dataSourceName
// and the error checks below; the SQL and everything else stay as they are.

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// driverName is the database/sql driver registered by the import above.
const driverName = "sqlite"

// dataSourceName returns the DSN of one connection to the database at path.
// Every connection sets busy_timeout (wait for another connection's write
// lock instead of failing at once) and foreign_keys (off by default in
// SQLite; the ON DELETE CASCADE of app_token needs it). The writer also sets
// journal_mode=WAL (persistent in the file, so readers need not), the
// synchronous level, and BEGIN IMMEDIATE for transactions, so a transaction
// takes the write lock when it starts instead of failing with SQLITE_BUSY
// when it first writes. Readers are query_only, so a write sent to the read
// pool by mistake fails loudly.
func dataSourceName(path string, opts Options, writer bool) (string, error) {
	// modernc.org/sqlite splits the DSN at the first '?' when it does not
	// start with "file:", so the path itself cannot contain one.
	if strings.ContainsRune(path, '?') {
		return "", fmt.Errorf("sqlite path %q contains '?'", path)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+opts.Synchronous+")")
		// Statement and savepoint journals in memory, not temporary files:
		// they only ever hold the pages of one transaction's batch.
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return path + "?" + q.Encode(), nil
}

// sqliteCode returns the extended result code of a driver error, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// isUniqueViolation reports a PRIMARY KEY or UNIQUE constraint failure.
func isUniqueViolation(err error) bool {
	code := sqliteCode(err)
	return code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || code == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// isForeignKeyViolation reports a FOREIGN KEY constraint failure.
func isForeignKeyViolation(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// isUnavailableCode reports a driver error that says the database cannot
// serve now rather than that the statement is wrong: the file locked past
// busy_timeout (BUSY, LOCKED), out of memory, made read-only, an I/O error,
// the disk full, the file gone or unopenable, a broken lock protocol.
func isUnavailableCode(err error) bool {
	switch sqliteCode(err) & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL:
		return true
	}
	return false
}
