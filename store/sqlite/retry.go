package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wxnotify/wxnotify/store"
)

var queryMessageRequeue = queries.MustGet("MessageRequeue")

// MessageRequeue implements store.Executor.
func (e *executor) MessageRequeue(ctx context.Context, p *store.MessageRequeueParams) (*store.Message, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	m, err := scanMessage(e.write.QueryRowContext(ctx, queryMessageRequeue,
		p.ID, timeArg(p.RunAt), timeArg(p.ExpiresAt), p.LastError, timeArg(p.Now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("requeue message: %w", err)
	}
	return m, nil
}
