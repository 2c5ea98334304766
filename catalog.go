package wxnotify

import (
	"context"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Template types of subscribe templates (Template.Type), as WeChat numbers them.
const (
	TemplateOneTime  = 2 // one-time subscription: each acceptance allows one send
	TemplateLongTerm = 3 // long-term subscription: granted once, for some industries only
)

// Limits of the template catalog.
const (
	// MaxTemplateAliasLen is the longest alias, in bytes.
	MaxTemplateAliasLen = 64
	// MaxSceneDescLen is the longest scene description WeChat accepts when
	// a subscribe template is added, in characters.
	MaxSceneDescLen = 15
	// TruncationMark ends a thing value that the truncation policy cut:
	// the value keeps MaxThingLen-1 characters and gets this one.
	TruncationMark = "…"
)

// TemplateKeyword is one keyword of a template: the data key a message
// gives a value for, the label WeChat shows beside the value, and the type
// whose rule the value must follow.
type TemplateKeyword struct {
	Key   string      `json:"key"`   // "thing1", "keyword2"
	Label string      `json:"label"` // "商品名称"
	Type  KeywordType `json:"type"`  // from the key: "thing", "keyword" (legacy)
}

// Template is a message template of an app, as last synced from WeChat.
// Templates are created on WeChat's side (the admin console, or AddTemplate
// here) and the catalog mirrors them; the catalog never invents one.
type Template struct {
	AppID      string `json:"appid"`
	TemplateID string `json:"template_id"` // priTmplId (subscribe) or template_id (legacy)
	// Kind is MessageSubscribe for a subscribe template (/wxaapi/newtmpl)
	// and MessageTemplate for a legacy template message template.
	Kind    MessageKind `json:"kind"`
	Title   string      `json:"title"`
	Content string      `json:"content"` // as WeChat returns it: "商品:{{thing1.DATA}}\n…"
	// Keywords are parsed from Content, in order (ParseTemplateKeywords).
	Keywords []TemplateKeyword `json:"keywords"`
	// Type is TemplateOneTime or TemplateLongTerm for subscribe templates,
	// 0 for legacy ones.
	Type int `json:"type,omitempty"`
	// TruncateThing lists the thing keywords whose over-long values are cut
	// to MaxThingLen characters (the last one TruncationMark) instead of
	// being refused. Opt-in per keyword: empty means every value must fit.
	TruncateThing []string `json:"truncate_thing,omitempty"`
	// Aliases are the app's names for this template (TemplateAlias).
	Aliases []string `json:"aliases,omitempty"`
	// Deleted is set when the template disappeared from WeChat (a sync no
	// longer lists it, or DeleteTemplate removed it). A deleted template is
	// kept so that messages naming it get a clear error; it is never sent to.
	Deleted  bool      `json:"deleted,omitempty"`
	SyncedAt time.Time `json:"synced_at"` // when WeChat last listed it
}

// Keyword returns the template's keyword with that key, or nil.
func (t *Template) Keyword(key string) *TemplateKeyword {
	for i := range t.Keywords {
		if t.Keywords[i].Key == key {
			return &t.Keywords[i]
		}
	}
	return nil
}

// TemplateAlias is an app's own name for one of its templates, usable
// wherever a template_id is (a message's template_id), so code names
// "order_shipped" instead of a 43-character id that differs per app and
// changes when the template is re-created.
type TemplateAlias struct {
	AppID      string `json:"appid"`
	Alias      string `json:"alias"`
	TemplateID string `json:"template_id"`
}

var templateAliasPattern = regexp.MustCompile(`^[a-z][a-z0-9_.-]*$`)

// ValidateTemplateAlias checks an alias: a lowercase letter, then lowercase
// letters, digits, "_", "." or "-", at most MaxTemplateAliasLen bytes. The
// lowercase rule keeps aliases apart from WeChat's template ids, which mix
// cases. Returns EINVALID naming the field "alias".
func ValidateTemplateAlias(alias string) error {
	if alias == "" || len(alias) > MaxTemplateAliasLen || !templateAliasPattern.MatchString(alias) {
		return FieldErrorf("alias", "an alias is a lowercase letter followed by lowercase letters, digits, _ . or -, at most %d bytes", MaxTemplateAliasLen)
	}
	return nil
}

// ParseTemplateKeywords returns the keywords of a template's content, in
// order: the key of each {{key.DATA}}, its type from the key, and as label
// the text before it on its line without a trailing colon ("商品名称:" or
// "商品名称："). A key that appears twice is listed once.
func ParseTemplateKeywords(content string) []TemplateKeyword {
	var out []TemplateKeyword
	seen := map[string]bool{}
	for _, m := range templateContentPattern.FindAllStringSubmatchIndex(content, -1) {
		key := content[m[2]:m[3]]
		if seen[key] {
			continue
		}
		seen[key] = true
		line := content[:m[0]]
		if i := strings.LastIndexAny(line, "\n}"); i >= 0 {
			line = line[i+1:]
		}
		label := strings.TrimSpace(line)
		label = strings.TrimSpace(strings.TrimRight(label, ":："))
		typ, _ := ParseKeywordName(key)
		out = append(out, TemplateKeyword{Key: key, Label: label, Type: typ})
	}
	return out
}

// TruncateThing cuts a thing value to MaxThingLen characters, the last being
// TruncationMark, and reports whether it did; a value that fits is returned
// as it is.
func TruncateThing(value string) (string, bool) {
	if utf8.RuneCountInString(value) <= MaxThingLen {
		return value, false
	}
	r := []rune(value)
	return string(r[:MaxThingLen-1]) + TruncationMark, true
}

// TemplateCategory is a category of the app's account; public subscribe
// templates are listed by category.
type TemplateCategory struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// LibraryTitle is a title of WeChat's public template library, from which
// templates are added (AddTemplate).
type LibraryTitle struct {
	Kind MessageKind `json:"kind"`
	// ID is the title id: a number (tid) for subscribe titles, "AT0002"
	// for legacy ones.
	ID         string `json:"id"`
	Title      string `json:"title"`
	Type       int    `json:"type,omitempty"`        // subscribe: TemplateOneTime or TemplateLongTerm
	CategoryID string `json:"category_id,omitempty"` // subscribe only
}

// LibraryKeyword is a keyword a library title offers.
type LibraryKeyword struct {
	ID      int         `json:"id"` // kid (subscribe) or keyword_id (legacy), for AddTemplate
	Name    string      `json:"name"`
	Example string      `json:"example,omitempty"`
	Rule    KeywordType `json:"rule,omitempty"` // subscribe only: the type of its value
}

// LibraryPage is one page of library titles.
type LibraryPage struct {
	Total  int             `json:"total"` // titles in all pages
	Titles []*LibraryTitle `json:"titles"`
}

// LibraryFilter selects library titles.
type LibraryFilter struct {
	// Kind is MessageSubscribe (default) or MessageTemplate.
	Kind MessageKind
	// CategoryIDs select subscribe titles; empty means every category of
	// the app's account. Ignored for legacy titles.
	CategoryIDs []int
	Offset      int // from 0
	Limit       int // default and maximum: 30 subscribe titles, 20 legacy ones
}

// TemplateAdd asks WeChat to add a library title to the app's templates.
type TemplateAdd struct {
	Kind MessageKind `json:"kind,omitempty"` // default MessageSubscribe
	// TitleID is the library title: a tid for subscribe, "AT0002" for legacy.
	TitleID string `json:"tid"`
	// KeywordIDs are the title's keywords to use, in display order: 2 to 5
	// for subscribe templates, 1 to 10 for legacy ones.
	KeywordIDs []int `json:"kid_list"`
	// SceneDesc describes when the app sends it (subscribe only, at most
	// MaxSceneDescLen characters; may be empty).
	SceneDesc string `json:"scene_desc,omitempty"`
}

// Validate checks the request; it returns EINVALID naming the field.
func (a *TemplateAdd) Validate() error {
	kind := a.Kind
	if kind == "" {
		kind = MessageSubscribe
	}
	switch {
	case kind != MessageSubscribe && kind != MessageTemplate:
		return FieldErrorf("kind", "kind must be %q or %q", MessageSubscribe, MessageTemplate)
	case a.TitleID == "":
		return FieldErrorf("tid", "tid required: a title of the template library")
	case kind == MessageSubscribe && (len(a.KeywordIDs) < 2 || len(a.KeywordIDs) > 5):
		return FieldErrorf("kid_list", "a subscribe template has 2 to 5 keywords")
	case kind == MessageTemplate && (len(a.KeywordIDs) < 1 || len(a.KeywordIDs) > 10):
		return FieldErrorf("kid_list", "a legacy template has 1 to 10 keywords")
	case utf8.RuneCountInString(a.SceneDesc) > MaxSceneDescLen:
		return FieldErrorf("scene_desc", "at most %d characters", MaxSceneDescLen)
	case kind == MessageTemplate && a.SceneDesc != "":
		return FieldErrorf("scene_desc", "only subscribe templates have a scene description")
	}
	if err := CheckText("scene_desc", a.SceneDesc); err != nil {
		return err
	}
	seen := map[int]bool{}
	for _, id := range a.KeywordIDs {
		if seen[id] {
			return FieldErrorf("kid_list", "keyword %d given twice", id)
		}
		seen[id] = true
	}
	return nil
}

// TemplateService is the catalog of each app's templates, mirrored from
// WeChat, with the app's aliases and truncation policies.
//
// Rules:
//   - WeChat is the source of truth: templates enter the catalog only by a
//     sync or AddTemplate, and leave it (Deleted) only by a sync that no
//     longer sees them or DeleteTemplate.
//   - When a template is found deleted, its messages still queued or
//     waiting for a credit are failed at once, with a last_error saying so,
//     rather than sent to meet WeChat's errcode one by one.
//   - Every method acts for one app and returns EFORBIDDEN if the caller's
//     API key may not act for it. Methods that call WeChat return
//     EUNAVAILABLE when WeChat cannot be reached (or the app has no valid
//     access_token), and EINVALID or ECONFLICT when WeChat refuses the
//     request for a reason the caller can fix.
//   - A message naming a template the catalog has never seen is accepted
//     unchecked (WeChat decides), so sending works before the first sync.
type TemplateService interface {
	// SyncTemplates reads the app's subscribe and legacy templates from
	// WeChat and makes the catalog match: new ones are added, changed ones
	// updated (aliases and truncation policies are kept), missing ones
	// marked Deleted with their queued messages failed. It returns how many
	// were added (new, or back after a deletion) and removed. If WeChat
	// refuses the legacy list (legacy templates are retired for many
	// accounts) only subscribe templates are synced.
	SyncTemplates(ctx context.Context, appID string) (added, removed int, err error)
	// FindTemplates returns the app's templates, deleted ones included,
	// with their aliases, ordered by kind then title then id.
	FindTemplates(ctx context.Context, appID string) ([]*Template, error)
	// ResolveTemplate returns the template with that id, or else the one
	// that alias names. Returns ENOTFOUND naming the field template_id if
	// there is neither.
	ResolveTemplate(ctx context.Context, appID, idOrAlias string) (*Template, error)
	// SetAlias points alias at a template of the catalog, replacing where
	// it pointed before. Returns EINVALID for a malformed alias
	// (ValidateTemplateAlias) or a deleted template, ENOTFOUND naming
	// template_id for a template not in the catalog.
	SetAlias(ctx context.Context, appID, alias, templateID string) error
	// DeleteAlias removes an alias. Returns ENOTFOUND if there is none.
	DeleteAlias(ctx context.Context, appID, alias string) error
	// FindLibraryCategories returns the categories of the app's account,
	// which select public subscribe titles.
	FindLibraryCategories(ctx context.Context, appID string) ([]*TemplateCategory, error)
	// FindLibraryTitles returns one page of the public library: subscribe
	// titles (/wxaapi/newtmpl) or legacy ones (/cgi-bin/wxopen/template/library).
	FindLibraryTitles(ctx context.Context, appID string, filter LibraryFilter) (*LibraryPage, error)
	// FindLibraryKeywords returns the keywords a library title offers.
	FindLibraryKeywords(ctx context.Context, appID string, kind MessageKind, titleID string) ([]*LibraryKeyword, error)
	// AddTemplate adds a library title to the app's templates on WeChat,
	// then to the catalog, and returns it. Returns EINVALID for a bad
	// request (TemplateAdd.Validate, or WeChat refusing the title or
	// keywords) and ECONFLICT when the account has as many templates as
	// WeChat allows (25 subscribe templates).
	AddTemplate(ctx context.Context, appID string, add *TemplateAdd) (*Template, error)
	// DeleteTemplate deletes a template (by id or alias) on WeChat, then
	// marks it Deleted in the catalog and fails its queued messages. A
	// template WeChat no longer has is still marked. Returns ENOTFOUND
	// naming template_id if the catalog does not have it.
	DeleteTemplate(ctx context.Context, appID, idOrAlias string) error
	// SetTruncation sets the template's truncation policy: the thing
	// keywords whose over-long values are cut (TruncateThing); empty keys
	// turn it off. Returns EINVALID naming keys[i] for a key that is not a
	// thing keyword of the template, ENOTFOUND for an unknown template.
	SetTruncation(ctx context.Context, appID, idOrAlias string, keys []string) (*Template, error)
}
