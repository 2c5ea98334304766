package wechat

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Subscribe template endpoints (/wxaapi/newtmpl/).
const (
	pathSubscribeCategories   = "/wxaapi/newtmpl/getcategory"
	pathSubscribePubTitles    = "/wxaapi/newtmpl/getpubtemplatetitles"
	pathSubscribePubKeywords  = "/wxaapi/newtmpl/getpubtemplatekeywords"
	pathSubscribeTemplateAdd  = "/wxaapi/newtmpl/addtemplate"
	pathSubscribeTemplateDel  = "/wxaapi/newtmpl/deltemplate"
	pathSubscribeTemplateList = "/wxaapi/newtmpl/gettemplate"
)

// Legacy template endpoints (/cgi-bin/wxopen/template/).
const (
	pathTemplateLibraryList = "/cgi-bin/wxopen/template/library/list"
	pathTemplateLibraryGet  = "/cgi-bin/wxopen/template/library/get"
	pathTemplateAdd         = "/cgi-bin/wxopen/template/add"
	pathTemplateList        = "/cgi-bin/wxopen/template/list"
	pathTemplateDel         = "/cgi-bin/wxopen/template/del"
)

// Template types of subscribe templates (PubTemplateTitle.Type, Template.Type).
const (
	TemplateTypeOneTime  = 2 // one-time subscription: one grant, one send
	TemplateTypeLongTerm = 3 // long-term subscription
)

// Category is a category of the app's account; its ID selects public
// subscribe templates.
type Category struct {
	ID   int
	Name string
}

// PubTemplateTitle is a public subscribe template title.
type PubTemplateTitle struct {
	TID        string // title id, passed to SubscribePubTemplateKeywords and SubscribeTemplateAdd
	Title      string
	Type       int    // TemplateTypeOneTime or TemplateTypeLongTerm
	CategoryID string // the category it belongs to
}

// PubTemplateTitles is one page of public subscribe template titles.
type PubTemplateTitles struct {
	Count int // number of titles in all pages
	Data  []PubTemplateTitle
}

// PubTemplateKeyword is a keyword a public subscribe template offers.
type PubTemplateKeyword struct {
	KID     int    // keyword id, passed in SubscribeTemplateAdd's kidList
	Name    string // label shown to the user, e.g. "物品名称"
	Example string
	Rule    string // value type, e.g. "thing", "time", "phrase"; the data key is Rule+index ("thing1")
}

// Template is a subscribe template added to the app's account.
type Template struct {
	PriTmplID            string // template_id for SendSubscribe
	Title                string
	Content              string // e.g. "会议时间:{{date2.DATA}}\n会议地点:{{thing1.DATA}}\n"
	Example              string
	Type                 int // TemplateTypeOneTime or TemplateTypeLongTerm
	KeywordEnumValueList []KeywordEnumValue
}

// KeywordEnumValue lists the values an enum keyword of a Template accepts.
type KeywordEnumValue struct {
	KeywordCode   string // e.g. "enum_string2.DATA"
	EnumValueList []string
}

// SubscribeCategories lists the app's categories with GET
// /wxaapi/newtmpl/getcategory.
func (c *Client) SubscribeCategories(ctx context.Context, accessToken string) ([]Category, error) {
	var r struct {
		result
		Data []struct {
			ID   flexInt `json:"id"`
			Name string  `json:"name"`
		} `json:"data"`
	}
	if err := c.call(ctx, http.MethodGet, pathSubscribeCategories, tokenQuery(accessToken), nil, nil, &r); err != nil {
		return nil, err
	}
	out := make([]Category, len(r.Data))
	for i, d := range r.Data {
		out[i] = Category{ID: int(d.ID), Name: d.Name}
	}
	return out, nil
}

// SubscribePubTemplateTitles lists public subscribe template titles of the
// given categories with GET /wxaapi/newtmpl/getpubtemplatetitles. start
// counts from 0; WeChat allows limit up to 30.
func (c *Client) SubscribePubTemplateTitles(ctx context.Context, accessToken string, categoryIDs []int, start, limit int) (PubTemplateTitles, error) {
	ids := make([]string, len(categoryIDs))
	for i, id := range categoryIDs {
		ids[i] = strconv.Itoa(id)
	}
	q := tokenQuery(accessToken) + "&ids=" + url.QueryEscape(strings.Join(ids, ",")) +
		"&start=" + strconv.Itoa(start) + "&limit=" + strconv.Itoa(limit)
	var r struct {
		result
		Count flexInt `json:"count"`
		Data  []struct {
			TID        flexString `json:"tid"`
			Title      string     `json:"title"`
			Type       flexInt    `json:"type"`
			CategoryID flexString `json:"categoryId"`
		} `json:"data"`
	}
	if err := c.call(ctx, http.MethodGet, pathSubscribePubTitles, q, nil, nil, &r); err != nil {
		return PubTemplateTitles{}, err
	}
	out := PubTemplateTitles{Count: int(r.Count), Data: make([]PubTemplateTitle, len(r.Data))}
	for i, d := range r.Data {
		out.Data[i] = PubTemplateTitle{TID: string(d.TID), Title: d.Title, Type: int(d.Type), CategoryID: string(d.CategoryID)}
	}
	return out, nil
}

// SubscribePubTemplateKeywords lists the keywords of public title tid with
// GET /wxaapi/newtmpl/getpubtemplatekeywords.
func (c *Client) SubscribePubTemplateKeywords(ctx context.Context, accessToken, tid string) ([]PubTemplateKeyword, error) {
	q := tokenQuery(accessToken) + "&tid=" + url.QueryEscape(tid)
	var r struct {
		result
		Data []struct {
			KID     flexInt `json:"kid"`
			Name    string  `json:"name"`
			Example string  `json:"example"`
			Rule    string  `json:"rule"`
		} `json:"data"`
	}
	if err := c.call(ctx, http.MethodGet, pathSubscribePubKeywords, q, nil, nil, &r); err != nil {
		return nil, err
	}
	out := make([]PubTemplateKeyword, len(r.Data))
	for i, d := range r.Data {
		out[i] = PubTemplateKeyword{KID: int(d.KID), Name: d.Name, Example: d.Example, Rule: d.Rule}
	}
	return out, nil
}

// SubscribeTemplateAdd adds public title tid with the keywords kidList (2 to
// 5, in display order) to the app's templates with POST
// /wxaapi/newtmpl/addtemplate, and returns the new priTmplId. sceneDesc (at
// most 15 characters) may be "".
//
// The body is application/x-www-form-urlencoded (tid=…&kidList=1&kidList=2
// &sceneDesc=…): the reference says this endpoint does not take JSON.
// 200012 means the account already has the maximum of 25 templates.
func (c *Client) SubscribeTemplateAdd(ctx context.Context, accessToken, tid string, kidList []int, sceneDesc string) (priTmplID string, err error) {
	form := "tid=" + url.QueryEscape(tid)
	for _, k := range kidList {
		form += "&kidList=" + strconv.Itoa(k)
	}
	if sceneDesc != "" {
		form += "&sceneDesc=" + url.QueryEscape(sceneDesc)
	}
	var r struct {
		result
		PriTmplID string `json:"priTmplId"`
	}
	if err := c.call(ctx, http.MethodPost, pathSubscribeTemplateAdd, tokenQuery(accessToken), []byte(form), c.formCT, &r); err != nil {
		return "", err
	}
	if r.PriTmplID == "" {
		return "", &DecodeError{Endpoint: pathSubscribeTemplateAdd, Err: errors.New("no priTmplId in a success answer")}
	}
	return r.PriTmplID, nil
}

// SubscribeTemplateDelete deletes the app's template priTmplID with POST
// /wxaapi/newtmpl/deltemplate.
func (c *Client) SubscribeTemplateDelete(ctx context.Context, accessToken, priTmplID string) error {
	body, err := encodeJSON(struct {
		PriTmplID string `json:"priTmplId"`
	}{priTmplID})
	if err != nil {
		return err
	}
	var r result
	return c.call(ctx, http.MethodPost, pathSubscribeTemplateDel, tokenQuery(accessToken), body, c.jsonCT, &r)
}

// SubscribeTemplateList lists the app's subscribe templates with GET
// /wxaapi/newtmpl/gettemplate.
func (c *Client) SubscribeTemplateList(ctx context.Context, accessToken string) ([]Template, error) {
	var r struct {
		result
		Data []struct {
			PriTmplID            string  `json:"priTmplId"`
			Title                string  `json:"title"`
			Content              string  `json:"content"`
			Example              string  `json:"example"`
			Type                 flexInt `json:"type"`
			KeywordEnumValueList []struct {
				KeywordCode   string   `json:"keywordCode"`
				EnumValueList []string `json:"enumValueList"`
			} `json:"keywordEnumValueList"`
		} `json:"data"`
	}
	if err := c.call(ctx, http.MethodGet, pathSubscribeTemplateList, tokenQuery(accessToken), nil, nil, &r); err != nil {
		return nil, err
	}
	out := make([]Template, len(r.Data))
	for i, d := range r.Data {
		t := Template{PriTmplID: d.PriTmplID, Title: d.Title, Content: d.Content, Example: d.Example, Type: int(d.Type)}
		for _, e := range d.KeywordEnumValueList {
			t.KeywordEnumValueList = append(t.KeywordEnumValueList, KeywordEnumValue{KeywordCode: e.KeywordCode, EnumValueList: e.EnumValueList})
		}
		out[i] = t
	}
	return out, nil
}

// LibraryTitle is a title of the legacy template library.
type LibraryTitle struct {
	ID    string // e.g. "AT0002"
	Title string
}

// LibraryTitles is one page of the legacy template library.
type LibraryTitles struct {
	TotalCount int // number of titles in all pages
	List       []LibraryTitle
}

// LibraryTemplate is a legacy library title with its keywords.
type LibraryTemplate struct {
	ID          string
	Title       string
	KeywordList []LibraryKeyword
}

// LibraryKeyword is a keyword offered by a legacy library title.
type LibraryKeyword struct {
	KeywordID int // passed in TemplateAdd's keywordIDs
	Name      string
	Example   string
}

// LegacyTemplate is a legacy template added to the app's account.
type LegacyTemplate struct {
	TemplateID string // template_id for SendTemplate
	Title      string
	Content    string // e.g. "购买地点{{keyword1.DATA}}\n"
	Example    string
}

// TemplateLibraryList lists legacy library titles with POST
// /cgi-bin/wxopen/template/library/list. offset counts from 0; WeChat
// allows count up to 20.
func (c *Client) TemplateLibraryList(ctx context.Context, accessToken string, offset, count int) (LibraryTitles, error) {
	body, err := encodeJSON(struct {
		Offset int `json:"offset"`
		Count  int `json:"count"`
	}{offset, count})
	if err != nil {
		return LibraryTitles{}, err
	}
	var r struct {
		result
		List []struct {
			ID    flexString `json:"id"`
			Title string     `json:"title"`
		} `json:"list"`
		TotalCount flexInt `json:"total_count"`
	}
	if err := c.call(ctx, http.MethodPost, pathTemplateLibraryList, tokenQuery(accessToken), body, c.jsonCT, &r); err != nil {
		return LibraryTitles{}, err
	}
	out := LibraryTitles{TotalCount: int(r.TotalCount), List: make([]LibraryTitle, len(r.List))}
	for i, d := range r.List {
		out.List[i] = LibraryTitle{ID: string(d.ID), Title: d.Title}
	}
	return out, nil
}

// TemplateLibraryGet returns legacy library title id with its keywords,
// with POST /cgi-bin/wxopen/template/library/get.
func (c *Client) TemplateLibraryGet(ctx context.Context, accessToken, id string) (LibraryTemplate, error) {
	body, err := encodeJSON(struct {
		ID string `json:"id"`
	}{id})
	if err != nil {
		return LibraryTemplate{}, err
	}
	var r struct {
		result
		ID          flexString `json:"id"`
		Title       string     `json:"title"`
		KeywordList []struct {
			KeywordID flexInt `json:"keyword_id"`
			Name      string  `json:"name"`
			Example   string  `json:"example"`
		} `json:"keyword_list"`
	}
	if err := c.call(ctx, http.MethodPost, pathTemplateLibraryGet, tokenQuery(accessToken), body, c.jsonCT, &r); err != nil {
		return LibraryTemplate{}, err
	}
	out := LibraryTemplate{ID: string(r.ID), Title: r.Title, KeywordList: make([]LibraryKeyword, len(r.KeywordList))}
	for i, k := range r.KeywordList {
		out.KeywordList[i] = LibraryKeyword{KeywordID: int(k.KeywordID), Name: k.Name, Example: k.Example}
	}
	return out, nil
}

// TemplateAdd adds legacy library title id with keywordIDs (at most 10, in
// display order) to the app's templates with POST
// /cgi-bin/wxopen/template/add, and returns the new template_id.
func (c *Client) TemplateAdd(ctx context.Context, accessToken, id string, keywordIDs []int) (templateID string, err error) {
	if keywordIDs == nil {
		keywordIDs = []int{}
	}
	body, err := encodeJSON(struct {
		ID            string `json:"id"`
		KeywordIDList []int  `json:"keyword_id_list"`
	}{id, keywordIDs})
	if err != nil {
		return "", err
	}
	var r struct {
		result
		TemplateID string `json:"template_id"`
	}
	if err := c.call(ctx, http.MethodPost, pathTemplateAdd, tokenQuery(accessToken), body, c.jsonCT, &r); err != nil {
		return "", err
	}
	if r.TemplateID == "" {
		return "", &DecodeError{Endpoint: pathTemplateAdd, Err: errors.New("no template_id in a success answer")}
	}
	return r.TemplateID, nil
}

// TemplateList lists the app's legacy templates with POST
// /cgi-bin/wxopen/template/list. offset counts from 0; WeChat allows count
// up to 20, and the last page may be shorter.
func (c *Client) TemplateList(ctx context.Context, accessToken string, offset, count int) ([]LegacyTemplate, error) {
	body, err := encodeJSON(struct {
		Offset int `json:"offset"`
		Count  int `json:"count"`
	}{offset, count})
	if err != nil {
		return nil, err
	}
	var r struct {
		result
		List []struct {
			TemplateID string `json:"template_id"`
			Title      string `json:"title"`
			Content    string `json:"content"`
			Example    string `json:"example"`
		} `json:"list"`
	}
	if err := c.call(ctx, http.MethodPost, pathTemplateList, tokenQuery(accessToken), body, c.jsonCT, &r); err != nil {
		return nil, err
	}
	out := make([]LegacyTemplate, len(r.List))
	for i, d := range r.List {
		out[i] = LegacyTemplate{TemplateID: d.TemplateID, Title: d.Title, Content: d.Content, Example: d.Example}
	}
	return out, nil
}

// TemplateDelete deletes the app's legacy template templateID with POST
// /cgi-bin/wxopen/template/del.
func (c *Client) TemplateDelete(ctx context.Context, accessToken, templateID string) error {
	body, err := encodeJSON(struct {
		TemplateID string `json:"template_id"`
	}{templateID})
	if err != nil {
		return err
	}
	var r result
	return c.call(ctx, http.MethodPost, pathTemplateDel, tokenQuery(accessToken), body, c.jsonCT, &r)
}
