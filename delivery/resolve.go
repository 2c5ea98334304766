package delivery

import (
	"context"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/store"
)

// EventResolver is the EventService the callback hands WeChat's pushes to:
// it passes them to the ledger (Events), then lets each
// subscribe_msg_sent_event settle an ambiguous message of the same user and
// template that it may be the record of (queue.ResolveAmbiguous, which
// records the outcome).
type EventResolver struct {
	Events wxnotify.EventService
	Queue  *queue.Queue
}

var _ wxnotify.EventService = (*EventResolver)(nil)

// HandleEvents stores the events, then settles what they can.
func (r *EventResolver) HandleEvents(ctx context.Context, events []*wxnotify.Event) error {
	if err := r.Events.HandleEvents(ctx, events); err != nil {
		return err
	}
	for _, e := range events {
		if e.Type != wxnotify.EventSubscribeSent || e.MsgID == "" {
			continue
		}
		candidates, err := r.Queue.Store.MessageList(ctx, &store.MessageListParams{
			AppIDs: []string{e.AppID}, OpenID: e.OpenID, State: string(wxnotify.MessageAmbiguous), Limit: 50,
		})
		if err != nil {
			return err
		}
		// Oldest first: the list is newest first.
		for i := len(candidates) - 1; i >= 0; i-- {
			m := candidates[i]
			if m.TemplateID != e.TemplateID {
				continue
			}
			state, err := r.Queue.ResolveAmbiguous(ctx, m.ID, time.Time{})
			if err != nil {
				return err
			}
			if state != "" {
				break
			}
		}
	}
	return nil
}
