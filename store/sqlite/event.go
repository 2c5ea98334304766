package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wxnotify/wxnotify/store"
)

var (
	queryEventInsert      = queries.MustGet("EventInsert")
	queryEventListByMsgID = queries.MustGet("EventListByMsgID")
	queryEventFindSent    = queries.MustGet("EventFindSent")
)

// EventInsert implements store.Executor.
func (e *executor) EventInsert(ctx context.Context, ev *store.Event) (bool, error) {
	var id int64
	err := e.write.QueryRowContext(ctx, queryEventInsert,
		ev.AppID, ev.Type, ev.OpenID, ev.TemplateID, ev.Status, ev.PopupScene, ev.MsgID, ev.ErrorCode,
		timeArg(ev.CreateTime), timeArg(ev.ReceivedAt)).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case isForeignKeyViolation(err):
		return false, store.ErrNotFound
	case err != nil:
		return false, fmt.Errorf("insert event: %w", err)
	}
	return true, nil
}

// EventListByMsgID implements store.Executor.
func (e *executor) EventListByMsgID(ctx context.Context, appID, msgID string) ([]*store.Event, error) {
	rows, err := e.read.QueryContext(ctx, queryEventListByMsgID, appID, msgID)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	events := []*store.Event{}
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		events = append(events, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

// EventFindSent implements store.Executor in one read.
func (e *executor) EventFindSent(ctx context.Context, p *store.EventFindSentParams) (*store.Event, error) {
	ev, err := scanEvent(e.read.QueryRowContext(ctx, queryEventFindSent, p.MessageID, p.Skew.Microseconds()))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("find sent event: %w", err)
	}
	return ev, nil
}

func scanEvent(s scanner) (*store.Event, error) {
	var (
		ev                     store.Event
		createTime, receivedAt sql.NullInt64
	)
	if err := s.Scan(&ev.ID, &ev.AppID, &ev.Type, &ev.OpenID, &ev.TemplateID, &ev.Status, &ev.PopupScene,
		&ev.MsgID, &ev.ErrorCode, &createTime, &receivedAt); err != nil {
		return nil, err
	}
	ev.CreateTime, ev.ReceivedAt = timeValue(createTime), timeValue(receivedAt)
	return &ev, nil
}
