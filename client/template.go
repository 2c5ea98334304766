package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wxnotify/wxnotify"
)

// The template catalog: GET/POST /v1/apps/{appid}/templates…,
// /template_aliases/… and /template_library…. Each call acts for the app
// named first, which the key must cover (else EFORBIDDEN); a server run
// without a catalog answers EUNAVAILABLE.

// The bodies of the template routes that the root package does not carry
// (the server declares them in its http package, which the client must not
// import). Keep them in step with http/template.go and http/openapi.json.
type (
	templateList struct {
		Templates []*wxnotify.Template `json:"templates"`
	}
	templateSyncResult struct {
		Added   int `json:"added"`
		Removed int `json:"removed"`
	}
	templateAliasRequest struct {
		TemplateID string `json:"template_id"`
	}
	templateTruncateRequest struct {
		Keys []string `json:"keys"`
	}
	templateKeywordList struct {
		Keywords []*wxnotify.LibraryKeyword `json:"keywords"`
	}
	templateCategoryList struct {
		Categories []*wxnotify.TemplateCategory `json:"categories"`
	}
)

func appPath(appID, suffix string) string {
	return "/v1/apps/" + url.PathEscape(appID) + suffix
}

// ListTemplates returns the app's templates as the catalog has them,
// deleted ones included (Deleted), with their aliases and truncation
// policies, ordered by kind, then title, then id.
func (c *Client) ListTemplates(ctx context.Context, appID string) ([]*wxnotify.Template, error) {
	var out templateList
	if _, err := c.do(ctx, http.MethodGet, appPath(appID, "/templates"), nil, nil, &out, nil); err != nil {
		return nil, err
	}
	return out.Templates, nil
}

// GetTemplate returns the template with the id idOrAlias, or else the one
// that alias names. Returns ENOTFOUND naming template_id when there is
// neither.
func (c *Client) GetTemplate(ctx context.Context, appID, idOrAlias string) (*wxnotify.Template, error) {
	return c.templateCall(ctx, http.MethodGet, appPath(appID, "/templates/"+url.PathEscape(idOrAlias)), nil)
}

// SyncTemplates makes the catalog match the app's templates on WeChat (new
// ones added, changed ones updated with their aliases and truncation kept,
// missing ones marked Deleted with their queued messages failed), and
// returns how many were added and removed. The server also syncs on its
// own schedule; call this after changing templates on WeChat's console.
// The action is written to the audit log.
func (c *Client) SyncTemplates(ctx context.Context, appID string) (added, removed int, err error) {
	var out templateSyncResult
	if _, err := c.do(ctx, http.MethodPost, appPath(appID, "/templates/sync"), nil, nil, &out, nil); err != nil {
		return 0, 0, err
	}
	return out.Added, out.Removed, nil
}

// AddTemplate adds a title of WeChat's template library to the app's
// account (see ListLibraryTitles and ListLibraryKeywords for the ids), then
// to the catalog, and returns the new template. Returns EINVALID naming the
// field for a bad request or one WeChat refuses, ECONFLICT when the account
// has as many templates as WeChat allows.
func (c *Client) AddTemplate(ctx context.Context, appID string, add *wxnotify.TemplateAdd) (*wxnotify.Template, error) {
	return c.templateCall(ctx, http.MethodPost, appPath(appID, "/templates"), add)
}

// DeleteTemplate deletes a template (by id or alias) from the app's account
// on WeChat, marks it Deleted in the catalog and fails its queued messages.
// Returns ENOTFOUND naming template_id when the catalog does not have it.
func (c *Client) DeleteTemplate(ctx context.Context, appID, idOrAlias string) error {
	_, err := c.do(ctx, http.MethodDelete, appPath(appID, "/templates/"+url.PathEscape(idOrAlias)), nil, nil, nil, nil)
	return err
}

// SetTemplateTruncation sets which thing keywords of the template have
// their over-long values cut to wxnotify's limit instead of refused, and
// returns the template. No keys turns truncation off. Returns EINVALID
// naming keys[i] for a key that is not a thing keyword of the template,
// ENOTFOUND for an unknown template.
func (c *Client) SetTemplateTruncation(ctx context.Context, appID, idOrAlias string, keys ...string) (*wxnotify.Template, error) {
	req := &templateTruncateRequest{Keys: append([]string{}, keys...)} // [] turns it off; null would be refused
	return c.templateCall(ctx, http.MethodPut, appPath(appID, "/templates/"+url.PathEscape(idOrAlias)+"/truncate"), req)
}

// SetTemplateAlias points alias at a template of the catalog, replacing
// where it pointed before, so that messages can name the alias
// ("order_shipped") instead of the template id. Returns EINVALID naming
// alias for a malformed one (wxnotify.ValidateTemplateAlias) or for a
// deleted template, ENOTFOUND naming template_id for a template the catalog
// does not have.
func (c *Client) SetTemplateAlias(ctx context.Context, appID, alias, templateID string) (*wxnotify.TemplateAlias, error) {
	var out wxnotify.TemplateAlias
	req := &templateAliasRequest{TemplateID: templateID}
	if _, err := c.do(ctx, http.MethodPut, appPath(appID, "/template_aliases/"+url.PathEscape(alias)), nil, req, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteTemplateAlias removes an alias; the template stays. Returns
// ENOTFOUND when there is no such alias.
func (c *Client) DeleteTemplateAlias(ctx context.Context, appID, alias string) error {
	_, err := c.do(ctx, http.MethodDelete, appPath(appID, "/template_aliases/"+url.PathEscape(alias)), nil, nil, nil, nil)
	return err
}

// ListLibraryTitles returns one page of WeChat's public template library:
// subscribe titles (f.Kind empty or wxnotify.MessageSubscribe) in the
// categories f.CategoryIDs (default: every category of the app's
// account), or legacy titles (wxnotify.MessageTemplate). Page with
// f.Offset and f.Limit (0: WeChat's maximum, 30 subscribe or 20 legacy
// titles); the page's Total counts every title.
func (c *Client) ListLibraryTitles(ctx context.Context, appID string, f wxnotify.LibraryFilter) (*wxnotify.LibraryPage, error) {
	q := url.Values{}
	if f.Kind != "" {
		q.Set("kind", string(f.Kind))
	}
	if len(f.CategoryIDs) > 0 {
		ids := make([]string, len(f.CategoryIDs))
		for i, id := range f.CategoryIDs {
			ids[i] = strconv.Itoa(id)
		}
		q.Set("category", strings.Join(ids, ","))
	}
	if f.Offset > 0 {
		q.Set("offset", strconv.Itoa(f.Offset))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out wxnotify.LibraryPage
	if _, err := c.do(ctx, http.MethodGet, appPath(appID, "/template_library"), q, nil, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListLibraryCategories returns the categories of the app's account, which
// select the subscribe titles ListLibraryTitles offers.
func (c *Client) ListLibraryCategories(ctx context.Context, appID string) ([]*wxnotify.TemplateCategory, error) {
	var out templateCategoryList
	if _, err := c.do(ctx, http.MethodGet, appPath(appID, "/template_library/categories"), nil, nil, &out, nil); err != nil {
		return nil, err
	}
	return out.Categories, nil
}

// ListLibraryKeywords returns the keywords a library title offers, whose
// ids AddTemplate takes in wxnotify.TemplateAdd.KeywordIDs. kind is
// wxnotify.MessageSubscribe ("" too) or wxnotify.MessageTemplate.
func (c *Client) ListLibraryKeywords(ctx context.Context, appID string, kind wxnotify.MessageKind, titleID string) ([]*wxnotify.LibraryKeyword, error) {
	q := url.Values{}
	if kind != "" {
		q.Set("kind", string(kind))
	}
	var out templateKeywordList
	if _, err := c.do(ctx, http.MethodGet, appPath(appID, "/template_library/"+url.PathEscape(titleID)), q, nil, &out, nil); err != nil {
		return nil, err
	}
	return out.Keywords, nil
}

func (c *Client) templateCall(ctx context.Context, method, path string, in any) (*wxnotify.Template, error) {
	var out wxnotify.Template
	if _, err := c.do(ctx, method, path, nil, in, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}
