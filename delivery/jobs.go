package delivery

import (
	"context"
	"fmt"
	"time"
)

// The pipeline's scheduled jobs (package jobs runs them; cmd/wxnotify lists
// them with their intervals). Each is one pass over the queue, on the
// database's clock.

// RecoverLeases moves the messages of a lost instance (their lease expired)
// to ambiguous, or to what WeChat's sent event says happened.
func (p *Pipeline) RecoverLeases(ctx context.Context) error {
	p.init()
	ids, resolved, err := p.Queue.Recover(ctx, time.Time{})
	if len(ids) > 0 {
		// WeChat's subscribe_msg_sent_event, where it arrived, said what
		// happened; the rest stay ambiguous (EventResolver settles them
		// if the event comes later).
		p.Logger.Warn("messages of a lost instance recovered", "count", len(ids), "resolved_by_sent_event", resolved)
	}
	return err
}

// ExpireMessages ends queued and waiting messages whose TTL passed.
func (p *Pipeline) ExpireMessages(ctx context.Context) error {
	p.init()
	_, err := p.Queue.Expire(ctx, time.Time{})
	return err
}

// RequeueWaiting queues again the waiting messages whose user granted a
// credit, and wakes the pipeline for them.
func (p *Pipeline) RequeueWaiting(ctx context.Context) error {
	p.init()
	n, err := p.Queue.RequeueWaiting(ctx, time.Time{}, time.Time{})
	if n > 0 {
		p.Wake()
	}
	return err
}

// PurgeOld deletes terminal messages (and their attempts) older than
// Retention, a thousand per statement.
func (p *Pipeline) PurgeOld(ctx context.Context) error {
	p.init()
	before := p.Now().Add(-p.Retention)
	var total int64
	for {
		n, err := p.Queue.Store.MessagePurge(ctx, before, 1000)
		total += n
		if err != nil {
			return fmt.Errorf("purge old messages: %w", err)
		}
		if n < 1000 {
			break
		}
	}
	if total > 0 {
		p.Logger.Info("purged old messages", "count", total)
	}
	return nil
}
