package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
)

type sqlStateError string

func (e sqlStateError) Error() string    { return "SQLSTATE " + string(e) }
func (e sqlStateError) SQLState() string { return string(e) }

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"Nil", nil, false},
		{"NotFound", store.ErrNotFound, false},
		{"Conflict", fmt.Errorf("insert app: %w", store.ErrConflict), false},
		{"Canceled", fmt.Errorf("query: %w", context.Canceled), false},
		{"UniqueViolation", sqlStateError("23505"), false},
		{"Syntax", sqlStateError("42601"), false},
		{"Deadline", fmt.Errorf("acquire: %w", context.DeadlineExceeded), true},
		{"Refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"Reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"ClosedMidAnswer", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"ConnectionFailure", sqlStateError("08006"), true},
		{"TooManyConnections", sqlStateError("53300"), true},
		{"AdminShutdown", sqlStateError("57P01"), true},
		{"CannotConnectNow", sqlStateError("57P03"), true},
		{"ReadOnlyAfterFailover", sqlStateError("25006"), true},
		{"Marked", store.Unavailable(errors.New("database is locked")), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := store.Classify(tc.err)
			if got := store.IsUnavailable(tc.err); got != tc.unavailable {
				t.Fatalf("IsUnavailable(%v)=%v, want %v", tc.err, got, tc.unavailable)
			}
			if got := errors.Is(err, store.ErrUnavailable); got != tc.unavailable {
				t.Fatalf("Classify(%v) is ErrUnavailable: %v, want %v", tc.err, got, tc.unavailable)
			}
			if tc.unavailable {
				if got := wxnotify.ErrorCode(err); got != wxnotify.EUNAVAILABLE {
					t.Fatalf("code %q, want %q", got, wxnotify.EUNAVAILABLE)
				}
				if !errors.Is(err, tc.err) {
					t.Fatalf("Classify lost the driver's error from the chain: %v", err)
				}
			} else if err != tc.err {
				t.Fatalf("Classify changed %v into %v", tc.err, err)
			}
		})
	}
}
