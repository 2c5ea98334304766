package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/wxnotify/wxnotify/store"
)

var queryMessageRequeue = queries.MustGet("MessageRequeue")

// MessageRequeue implements store.Executor.
func (e *executor) MessageRequeue(ctx context.Context, p *store.MessageRequeueParams) (*store.Message, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	m, err := scanMessage(e.q.QueryRow(ctx, queryMessageRequeue,
		p.ID, timeArg(p.RunAt), timeArg(p.ExpiresAt), p.LastError, timeArg(p.Now)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("requeue message: %w", err)
	}
	return m, nil
}
