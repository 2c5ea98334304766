package mock

import (
	"context"

	"github.com/wxnotify/wxnotify"
)

var (
	_ wxnotify.SessionService        = (*SessionService)(nil)
	_ wxnotify.CreditService         = (*CreditService)(nil)
	_ wxnotify.EventService          = (*EventService)(nil)
	_ wxnotify.CallbackConfigService = (*CallbackConfigService)(nil)
)

// SessionService is a wxnotify.SessionService whose methods call the Func
// fields.
type SessionService struct {
	LoginFunc        func(ctx context.Context, appID, code string) (string, *wxnotify.Session, error)
	AuthenticateFunc func(ctx context.Context, token string) (*wxnotify.Session, error)
}

func (s *SessionService) Login(ctx context.Context, appID, code string) (string, *wxnotify.Session, error) {
	return s.LoginFunc(ctx, appID, code)
}

func (s *SessionService) Authenticate(ctx context.Context, token string) (*wxnotify.Session, error) {
	return s.AuthenticateFunc(ctx, token)
}

// CreditService is a wxnotify.CreditService whose methods call the Func
// fields.
type CreditService struct {
	AddFormIDsFunc            func(ctx context.Context, appID, openID string, kind wxnotify.CreditKind, values []string, source string) (int, error)
	RecordSubscribeResultFunc func(ctx context.Context, appID, openID string, result map[string]wxnotify.SubscribeChoice, source string) error
	SpendCreditFunc           func(ctx context.Context, appID, openID, templateID string) (*wxnotify.Credit, error)
	RefundCreditFunc          func(ctx context.Context, id int64) error
	KillCreditFunc            func(ctx context.Context, id int64, reason string) error
	PurgeCreditsFunc          func(ctx context.Context) (int64, error)
	CreditStocksFunc          func(ctx context.Context, filter wxnotify.CreditFilter) ([]*wxnotify.CreditStock, error)
}

func (s *CreditService) AddFormIDs(ctx context.Context, appID, openID string, kind wxnotify.CreditKind, values []string, source string) (int, error) {
	return s.AddFormIDsFunc(ctx, appID, openID, kind, values, source)
}

func (s *CreditService) RecordSubscribeResult(ctx context.Context, appID, openID string, result map[string]wxnotify.SubscribeChoice, source string) error {
	return s.RecordSubscribeResultFunc(ctx, appID, openID, result, source)
}

func (s *CreditService) SpendCredit(ctx context.Context, appID, openID, templateID string) (*wxnotify.Credit, error) {
	return s.SpendCreditFunc(ctx, appID, openID, templateID)
}

func (s *CreditService) RefundCredit(ctx context.Context, id int64) error {
	return s.RefundCreditFunc(ctx, id)
}

func (s *CreditService) KillCredit(ctx context.Context, id int64, reason string) error {
	return s.KillCreditFunc(ctx, id, reason)
}

func (s *CreditService) PurgeCredits(ctx context.Context) (int64, error) {
	return s.PurgeCreditsFunc(ctx)
}

func (s *CreditService) CreditStocks(ctx context.Context, filter wxnotify.CreditFilter) ([]*wxnotify.CreditStock, error) {
	return s.CreditStocksFunc(ctx, filter)
}

// EventService is a wxnotify.EventService whose method calls HandleEventsFunc.
type EventService struct {
	HandleEventsFunc func(ctx context.Context, events []*wxnotify.Event) error
}

func (s *EventService) HandleEvents(ctx context.Context, events []*wxnotify.Event) error {
	return s.HandleEventsFunc(ctx, events)
}

// CallbackConfigService is a wxnotify.CallbackConfigService whose methods
// call the Func fields.
type CallbackConfigService struct {
	SetCallbackConfigFunc    func(ctx context.Context, c *wxnotify.CallbackConfig) error
	CallbackConfigFunc       func(ctx context.Context, appID string) (*wxnotify.CallbackConfig, error)
	DeleteCallbackConfigFunc func(ctx context.Context, appID string) error
}

func (s *CallbackConfigService) SetCallbackConfig(ctx context.Context, c *wxnotify.CallbackConfig) error {
	return s.SetCallbackConfigFunc(ctx, c)
}

func (s *CallbackConfigService) CallbackConfig(ctx context.Context, appID string) (*wxnotify.CallbackConfig, error) {
	return s.CallbackConfigFunc(ctx, appID)
}

func (s *CallbackConfigService) DeleteCallbackConfig(ctx context.Context, appID string) error {
	return s.DeleteCallbackConfigFunc(ctx, appID)
}
