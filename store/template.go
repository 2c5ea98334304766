package store

import (
	"fmt"
	"time"
)

// Rows of the template catalog: each app's templates as last synced from
// WeChat, and the app's aliases for them. A template row is never removed
// while its app exists: a template gone from WeChat is marked deleted, so
// messages naming it get a clear error. Templates and aliases go with
// AppDelete.

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
