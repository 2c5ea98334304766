// Package storetest is the conformance suite that every store driver runs:
// each rule of the doc comments of store.Driver and store.Executor, and the
// queue's rules (package queue) over them, checked the same way on every
// engine. It is driver-agnostic: it imports no driver, and each driver's
// test passes its own database maker in:
//
//	func TestDB(t *testing.T) { storetest.Exercise(t, newDB) }
//
// Other packages' tests get a fresh database on every engine from
// internal/testdb, whose Engines hand out NewDBFuncs of this package.
//
// A test database is reached through an OpenFunc, which opens a new,
// separate Driver on the same database each time it is called, as a second
// instance of wxnotify would; tests of multi-instance behaviour call it
// twice.
package storetest

import (
	"testing"

	"github.com/wxnotify/wxnotify/store"
)

// OpenFunc opens a new Driver on one test database. Every call returns a
// separate Driver (its own connections), closed when t's test ends.
type OpenFunc func(t testing.TB) store.Driver

// NewDBFunc creates an empty database for t alone, removed when t's test
// ends, and returns the OpenFunc that opens Drivers on it.
type NewDBFunc func(t testing.TB) OpenFunc
