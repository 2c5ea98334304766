package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// DefaultGroupSize is Options.GroupSize: how many transactions begun on the
// pool at about the same moment share one SQLite transaction.
const DefaultGroupSize = 16

// Group commit. SQLite has one writer, so the accepts, claims and finishes
// of the queue wait for it in turn; each paid its own BEGIN IMMEDIATE and
// COMMIT (the WAL append of every page it touched, the hot index pages
// again and again). Transactions that wait at the same moment share one:
//
//   - Begin on the pool takes the turn (one member uses the writer at a
//     time, as before) and joins the open group, or opens one.
//   - Each member after the first runs in a savepoint of the group's
//     transaction, so its Rollback undoes its own writes only. The first
//     needs none (a rollback of the whole transaction undoes only its
//     writes, since members take turns): a savepoint copies every page it
//     first touches to the journal, which a sequential load would pay on
//     every transaction.
//   - When a member ends and nobody waits to join, or the group is full, the
//     group commits; a member's Commit returns only then, with the group's
//     result, so a committed member is durable exactly as before.
//   - A member that rolls back closes and commits its group at once: an
//     error may have made SQLite roll the whole transaction back, and no
//     later member may then run outside one.
type groups struct {
	size int
	turn chan struct{} // held by the member using the writer

	mu      sync.Mutex
	open    *group // the group new members join; nil: none
	waiting int    // Begin callers waiting for the turn
}

// group is one SQLite transaction shared by its members.
type group struct {
	db      *DB
	tx      *sql.Tx
	seq     int // savepoints begun in tx, for their names (under the turn)
	members int
	done    chan struct{} // closed once committed (or failed)
	err     error         // the commit's result
}

func newGroups(size int) *groups {
	return &groups{size: max(size, 1), turn: make(chan struct{}, 1)}
}

// begin makes a member: it waits for the turn, joins or opens a group and
// starts the member's savepoint.
func (db *DB) beginMember(ctx context.Context) (*tx, error) {
	w := db.groups
	w.mu.Lock()
	w.waiting++
	w.mu.Unlock()
	select {
	case w.turn <- struct{}{}:
	case <-ctx.Done():
		w.mu.Lock()
		w.waiting--
		orphan := w.waiting == 0 && w.open != nil
		w.mu.Unlock()
		if orphan {
			// A member that ended left the group open for this caller:
			// commit it, or its members wait for ever.
			w.turn <- struct{}{}
			w.commitIdle()
			<-w.turn
		}
		return nil, fmt.Errorf("begin: %w", ctx.Err())
	}
	w.mu.Lock()
	w.waiting--
	g := w.open
	if g == nil {
		// The group outlives this member's context: cancelling it must not
		// roll back the others' writes.
		sqlTx, err := db.write.BeginTx(context.WithoutCancel(ctx), nil)
		if err != nil {
			w.mu.Unlock()
			<-w.turn
			return nil, fmt.Errorf("begin: %w", db.classify(err))
		}
		g = &group{db: db, tx: sqlTx, done: make(chan struct{})}
		w.open = g
	}
	g.members++
	first := g.members == 1
	if g.members >= w.size {
		w.open = nil // full: it commits when this member ends
	}
	w.mu.Unlock()
	q := db.classifying(g.tx)
	t := &tx{executor: executor{db: db, read: q, write: q, tx: g.tx, seq: &g.seq}, group: g}
	if first {
		return t, nil
	}
	g.seq++
	t.savepoint = fmt.Sprintf("g_%d", g.seq)
	if _, err := g.tx.ExecContext(ctx, fmt.Sprintf(querySavepoint, t.savepoint)); err != nil {
		t.done = true
		db.endMember(g, true)
		return nil, fmt.Errorf("begin: %w", err)
	}
	return t, nil
}

// endMember is called by the member holding the turn once its savepoint is
// released or rolled back. It commits the group when nobody waits to join
// it, it is full, or the member failed (closeGroup), then gives up the
// turn.
func (db *DB) endMember(g *group, closeGroup bool) {
	w := db.groups
	w.mu.Lock()
	commit := closeGroup || w.waiting == 0 || w.open != g
	if commit && w.open == g {
		w.open = nil
	}
	w.mu.Unlock()
	if commit {
		g.commit()
	}
	<-w.turn
}

// commitIdle commits the open group if it still has nobody waiting to join
// (the caller holds the turn).
func (w *groups) commitIdle() {
	w.mu.Lock()
	g := w.open
	if g == nil || w.waiting > 0 {
		w.mu.Unlock()
		return
	}
	w.open = nil
	w.mu.Unlock()
	g.commit()
}

// rollbackGroup ends the group of a first member that rolls back: nobody
// else has joined it (members take turns), so the whole transaction goes.
func (db *DB) rollbackGroup(g *group) {
	w := db.groups
	w.mu.Lock()
	if w.open == g {
		w.open = nil
	}
	w.mu.Unlock()
	if err := g.tx.Rollback(); err != nil {
		g.err = fmt.Errorf("rollback: %w", err)
	} else {
		g.err = sql.ErrTxDone
	}
	close(g.done)
	<-w.turn
}

func (g *group) commit() {
	if err := g.tx.Commit(); err != nil {
		g.err = fmt.Errorf("commit: %w", g.db.classify(err))
	}
	close(g.done)
}

// commitMember releases a member's savepoint and waits for its group to
// commit.
func (t *tx) commitMember(ctx context.Context) error {
	g := t.group
	if t.savepoint == "" { // the first member: nothing to release
		t.done = true
		t.db.endMember(g, false)
		<-g.done
		return g.err
	}
	if _, err := t.tx.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(querySavepointRelease, t.savepoint)); err != nil {
		// Not released: undo it, and end the group so nothing runs after
		// a transaction SQLite may have rolled back.
		t.tx.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(querySavepointRollback, t.savepoint))
		t.done = true
		t.db.endMember(g, true)
		return fmt.Errorf("release savepoint: %w", err)
	}
	t.done = true
	t.db.endMember(g, false)
	<-g.done
	return g.err
}

// rollbackMember undoes a member's writes and commits the others' at once;
// the first member, alone in its group, rolls the transaction back.
func (t *tx) rollbackMember(ctx context.Context) error {
	g := t.group
	if t.savepoint == "" {
		t.done = true
		t.db.rollbackGroup(g)
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	_, err := t.tx.ExecContext(ctx, fmt.Sprintf(querySavepointRollback, t.savepoint))
	if err == nil {
		_, err = t.tx.ExecContext(ctx, fmt.Sprintf(querySavepointRelease, t.savepoint))
	}
	t.done = true
	t.db.endMember(g, true)
	if err != nil {
		return fmt.Errorf("roll back: %w", err)
	}
	return nil
}
