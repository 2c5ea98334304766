package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/wxnotify/wxnotify"
)

// ErrUnavailable is in the chain of every error a driver returns because the
// database cannot serve now (refused or lost connection, a server shutting
// down or failing over, a lock held past the busy timeout, a closed pool),
// as opposed to an error of the statement itself. Such an error is worth
// retrying later, unchanged.
//
// The same chain holds a *wxnotify.Error with code EUNAVAILABLE, so every
// caller that turns errors into codes (the HTTP API's 503 with Retry-After,
// the CLI's exit code) says "retry later" without knowing the store: the
// translation is made once, by the drivers, through Classify.
var ErrUnavailable = errors.New("store: database unavailable")

// errUnavailableCode is what a caller of wxnotify is told.
var errUnavailableCode = &wxnotify.Error{Code: wxnotify.EUNAVAILABLE, Message: "the database is unavailable; retry later"}

// unavailableError marks a driver error as ErrUnavailable, keeping the
// driver's error in the chain for logs and errors.Is.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return "database unavailable: " + e.err.Error() }

func (e *unavailableError) Unwrap() []error {
	return []error{e.err, ErrUnavailable, errUnavailableCode}
}

// Unavailable marks err as the database being unavailable (see
// ErrUnavailable). A driver calls it for the failures only it can recognise
// (SQLite's busy and I/O errors, its own closed state); Classify covers the
// rest. Nil stays nil.
func Unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	return &unavailableError{err: err}
}

// Classify returns err marked as ErrUnavailable when it says the database
// cannot serve now, and err unchanged otherwise. Drivers pass every error of
// their connections through it, in one place each.
//
// It recognises what every engine shares: a network error, a connection
// reset or refused, a connection closed mid-answer, database/sql's bad
// connection, a context deadline (a pool or connection that did not answer
// in time), and the SQL standard's SQLSTATE classes for a lost connection
// (08), insufficient resources (53), an operator intervention such as a
// shutdown (57P01–57P03), a system error (58) and a read-only transaction
// after a failover (25006). A cancelled context is not: the caller went away.
func Classify(err error) error {
	if IsUnavailable(err) {
		return Unavailable(err)
	}
	return err
}

// IsUnavailable reports whether Classify would mark err.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		code := st.SQLState()
		switch {
		case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"), strings.HasPrefix(code, "58"):
			return true
		case code == "57P01", code == "57P02", code == "57P03", code == "25006":
			return true
		}
	}
	return false
}
