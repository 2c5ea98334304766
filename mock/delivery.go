package mock

import (
	"context"
	"iter"

	"github.com/wxnotify/wxnotify"
)

var (
	_ wxnotify.BroadcastService = (*BroadcastService)(nil)
	_ wxnotify.ScheduleService  = (*ScheduleService)(nil)
	_ wxnotify.WebhookService   = (*WebhookService)(nil)
)

// BroadcastService is a wxnotify.BroadcastService whose methods call the
// Func fields.
type BroadcastService struct {
	CreateBroadcastFunc   func(ctx context.Context, b *wxnotify.Broadcast, recipients iter.Seq2[wxnotify.BroadcastRecipient, error]) error
	FindBroadcastByIDFunc func(ctx context.Context, id int64) (*wxnotify.Broadcast, error)
	FindBroadcastsFunc    func(ctx context.Context, f wxnotify.BroadcastFilter) ([]*wxnotify.Broadcast, error)
}

func (s *BroadcastService) CreateBroadcast(ctx context.Context, b *wxnotify.Broadcast, recipients iter.Seq2[wxnotify.BroadcastRecipient, error]) error {
	return s.CreateBroadcastFunc(ctx, b, recipients)
}

func (s *BroadcastService) FindBroadcastByID(ctx context.Context, id int64) (*wxnotify.Broadcast, error) {
	return s.FindBroadcastByIDFunc(ctx, id)
}

func (s *BroadcastService) FindBroadcasts(ctx context.Context, f wxnotify.BroadcastFilter) ([]*wxnotify.Broadcast, error) {
	return s.FindBroadcastsFunc(ctx, f)
}

// ScheduleService is a wxnotify.ScheduleService whose methods call the Func
// fields.
type ScheduleService struct {
	CreateScheduleFunc   func(ctx context.Context, s *wxnotify.Schedule) error
	FindScheduleByIDFunc func(ctx context.Context, id int64) (*wxnotify.Schedule, error)
	FindSchedulesFunc    func(ctx context.Context) ([]*wxnotify.Schedule, error)
	PauseScheduleFunc    func(ctx context.Context, id int64) (*wxnotify.Schedule, error)
	ResumeScheduleFunc   func(ctx context.Context, id int64) (*wxnotify.Schedule, error)
	DeleteScheduleFunc   func(ctx context.Context, id int64) error
}

func (s *ScheduleService) CreateSchedule(ctx context.Context, sc *wxnotify.Schedule) error {
	return s.CreateScheduleFunc(ctx, sc)
}

func (s *ScheduleService) FindScheduleByID(ctx context.Context, id int64) (*wxnotify.Schedule, error) {
	return s.FindScheduleByIDFunc(ctx, id)
}

func (s *ScheduleService) FindSchedules(ctx context.Context) ([]*wxnotify.Schedule, error) {
	return s.FindSchedulesFunc(ctx)
}

func (s *ScheduleService) PauseSchedule(ctx context.Context, id int64) (*wxnotify.Schedule, error) {
	return s.PauseScheduleFunc(ctx, id)
}

func (s *ScheduleService) ResumeSchedule(ctx context.Context, id int64) (*wxnotify.Schedule, error) {
	return s.ResumeScheduleFunc(ctx, id)
}

func (s *ScheduleService) DeleteSchedule(ctx context.Context, id int64) error {
	return s.DeleteScheduleFunc(ctx, id)
}

// WebhookService is a wxnotify.WebhookService whose methods call the Func
// fields.
type WebhookService struct {
	CreateWebhookFunc func(ctx context.Context, w *wxnotify.Webhook) error
	FindWebhooksFunc  func(ctx context.Context) ([]*wxnotify.Webhook, error)
	DeleteWebhookFunc func(ctx context.Context, id int64) error

	FindWebhookDeliveriesFunc   func(ctx context.Context, webhookID int64, f wxnotify.WebhookDeliveryFilter) ([]*wxnotify.WebhookDelivery, error)
	ReplayWebhookDeliveriesFunc func(ctx context.Context, webhookID int64, ids []int64) (int64, error)
}

func (s *WebhookService) FindWebhookDeliveries(ctx context.Context, webhookID int64, f wxnotify.WebhookDeliveryFilter) ([]*wxnotify.WebhookDelivery, error) {
	return s.FindWebhookDeliveriesFunc(ctx, webhookID, f)
}

func (s *WebhookService) ReplayWebhookDeliveries(ctx context.Context, webhookID int64, ids []int64) (int64, error) {
	return s.ReplayWebhookDeliveriesFunc(ctx, webhookID, ids)
}

func (s *WebhookService) CreateWebhook(ctx context.Context, w *wxnotify.Webhook) error {
	return s.CreateWebhookFunc(ctx, w)
}

func (s *WebhookService) FindWebhooks(ctx context.Context) ([]*wxnotify.Webhook, error) {
	return s.FindWebhooksFunc(ctx)
}

func (s *WebhookService) DeleteWebhook(ctx context.Context, id int64) error {
	return s.DeleteWebhookFunc(ctx, id)
}
