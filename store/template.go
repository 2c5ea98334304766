package store

import (
	"context"
	"fmt"
	"time"
)

// TemplateStore keeps the template catalog: each app's templates as last
// synced from WeChat, the app's aliases for them, and failing the queued
// messages of a template WeChat deleted. It is separate from Executor; both
// drivers implement it (var _ store.TemplateStore = (*DB)(nil)), and callers
// reach it by type assertion or through an interface that embeds it.
//
// A template row is never removed while its app exists: a template gone
// from WeChat is marked deleted, so messages naming it get a clear error.
// Templates and aliases go with AppDelete.
type TemplateStore interface {
	// TemplateSync makes the app's templates of p.Kind match p.Templates in
	// one transaction: each listed template is inserted, or updated (title,
	// content, keywords, type, SyncedAt = Now, deleted cleared) keeping its
	// Truncate policy; every other template of the app and kind that is not
	// deleted yet is marked deleted (DeletedAt = Now). It returns the ids
	// added (new, or no longer deleted) and removed (newly deleted), each in
	// id order. Returns ErrNotFound if the app does not exist, and an error
	// if p.Validate fails.
	TemplateSync(ctx context.Context, p *TemplateSyncParams) (*TemplateSyncResult, error)
	// TemplateUpsert inserts or updates one template (as TemplateSync does
	// for a listed one) without touching the others. Returns ErrNotFound if
	// the app does not exist, and an error if p.Validate fails.
	TemplateUpsert(ctx context.Context, appID string, t *Template, now time.Time) error
	// TemplateGet returns one template, deleted or not, or ErrNotFound.
	TemplateGet(ctx context.Context, appID, templateID string) (*Template, error)
	// TemplateList returns the app's templates, deleted ones included,
	// ordered by template id.
	TemplateList(ctx context.Context, appID string) ([]*Template, error)
	// TemplateMarkDeleted marks one template deleted at now and reports
	// whether it changed (false: deleted already). Returns ErrNotFound.
	TemplateMarkDeleted(ctx context.Context, appID, templateID string, now time.Time) (bool, error)
	// TemplateSetTruncate replaces the template's truncation policy (a JSON
	// array of keys; nil stores []). Returns ErrNotFound.
	TemplateSetTruncate(ctx context.Context, appID, templateID string, keys []byte) error

	// TemplateAliasSet points the app's alias at templateID, creating or
	// replacing it. Returns ErrNotFound if the template is not in the
	// catalog.
	TemplateAliasSet(ctx context.Context, a *TemplateAlias) error
	// TemplateAliasDelete removes an alias, or returns ErrNotFound.
	TemplateAliasDelete(ctx context.Context, appID, alias string) error
	// TemplateAliasList returns the app's aliases ordered by alias.
	TemplateAliasList(ctx context.Context, appID string) ([]*TemplateAlias, error)

	// MessageFailTemplate moves the app's queued and waiting_credit
	// messages of templateID to failed with last_error = reason, refunding
	// and dropping any credit they hold (as MessageExpire does), and returns
	// their ids in order. Messages being sent or terminal are untouched.
	MessageFailTemplate(ctx context.Context, appID, templateID, reason string, now time.Time) ([]int64, error)
}

// Template is a template row. Keywords and Truncate are JSON the store
// keeps opaque (the catalog package owns their shape).
type Template struct {
	AppID      string
	TemplateID string
	Kind       string // "subscribe" or "template"
	Title      string
	Content    string
	Keywords   []byte // JSON array; nil is stored as []
	Type       int
	Truncate   []byte // JSON array of keys; read back [] when none
	Deleted    bool
	SyncedAt   time.Time
	DeletedAt  time.Time // zero unless Deleted
	CreatedAt  time.Time
}

// Validate reports a malformed template.
func (t *Template) Validate() error {
	switch {
	case t.TemplateID == "":
		return fmt.Errorf("store: template: TemplateID required")
	case t.Kind != "subscribe" && t.Kind != "template":
		return fmt.Errorf("store: template %s: Kind %q not subscribe or template", t.TemplateID, t.Kind)
	}
	return nil
}

// TemplateSyncParams are one kind of an app's templates as WeChat lists them.
type TemplateSyncParams struct {
	AppID     string
	Kind      string // "subscribe" or "template"
	Templates []*Template
	Now       time.Time
}

// Validate reports malformed params.
func (p *TemplateSyncParams) Validate() error {
	switch {
	case p.AppID == "":
		return fmt.Errorf("store: template sync: AppID required")
	case p.Kind != "subscribe" && p.Kind != "template":
		return fmt.Errorf("store: template sync: Kind %q not subscribe or template", p.Kind)
	case p.Now.IsZero():
		return fmt.Errorf("store: template sync: Now required")
	}
	seen := map[string]bool{}
	for _, t := range p.Templates {
		if err := t.Validate(); err != nil {
			return err
		}
		if t.Kind != p.Kind {
			return fmt.Errorf("store: template sync: template %s is %s, not %s", t.TemplateID, t.Kind, p.Kind)
		}
		if seen[t.TemplateID] {
			return fmt.Errorf("store: template sync: template %s listed twice", t.TemplateID)
		}
		seen[t.TemplateID] = true
	}
	return nil
}

// TemplateSyncResult says what a sync changed.
type TemplateSyncResult struct {
	Added   []string
	Removed []string
}

// TemplateAlias is an alias row.
type TemplateAlias struct {
	AppID      string
	Alias      string
	TemplateID string
}
