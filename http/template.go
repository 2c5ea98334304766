package http

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/wxnotify/wxnotify"
)

// The template catalog (operator API, API key; each route acts for the app
// in its path, which the key must cover). A nil TemplateService answers 503.
func (s *Server) registerTemplateRoutes() {
	s.handle("GET /v1/apps/{appid}/templates", s.requireAPIKey(s.handleTemplateList))
	s.handle("POST /v1/apps/{appid}/templates", s.requireAPIKey(s.handleTemplateAdd))
	s.handle("POST /v1/apps/{appid}/templates/sync", s.requireAPIKey(s.handleTemplateSync))
	s.handle("GET /v1/apps/{appid}/templates/{id}", s.requireAPIKey(s.handleTemplateGet))
	s.handle("DELETE /v1/apps/{appid}/templates/{id}", s.requireAPIKey(s.handleTemplateDelete))
	s.handle("PUT /v1/apps/{appid}/templates/{id}/truncate", s.requireAPIKey(s.handleTemplateTruncate))
	s.handle("PUT /v1/apps/{appid}/template_aliases/{alias}", s.requireAPIKey(s.handleTemplateAliasSet))
	s.handle("DELETE /v1/apps/{appid}/template_aliases/{alias}", s.requireAPIKey(s.handleTemplateAliasDelete))
	s.handle("GET /v1/apps/{appid}/template_library", s.requireAPIKey(s.handleTemplateLibrary))
	s.handle("GET /v1/apps/{appid}/template_library/categories", s.requireAPIKey(s.handleTemplateCategories))
	s.handle("GET /v1/apps/{appid}/template_library/{tid}", s.requireAPIKey(s.handleTemplateLibraryKeywords))
}

// TemplateList answers GET /v1/apps/{appid}/templates.
type TemplateList struct {
	Templates []*wxnotify.Template `json:"templates"`
}

// TemplateSyncResult answers POST /v1/apps/{appid}/templates/sync.
type TemplateSyncResult struct {
	Added   int `json:"added"`
	Removed int `json:"removed"`
}

// TemplateAliasRequest is the body of PUT …/template_aliases/{alias}.
type TemplateAliasRequest struct {
	TemplateID string `json:"template_id"`
}

// TemplateTruncateRequest is the body of PUT …/templates/{id}/truncate: the
// thing keywords whose over-long values are cut; [] turns truncation off.
type TemplateTruncateRequest struct {
	Keys []string `json:"keys"`
}

// TemplateKeywordList answers GET …/template_library/{tid}.
type TemplateKeywordList struct {
	Keywords []*wxnotify.LibraryKeyword `json:"keywords"`
}

// TemplateCategoryList answers GET …/template_library/categories.
type TemplateCategoryList struct {
	Categories []*wxnotify.TemplateCategory `json:"categories"`
}

func (s *Server) templateService(w http.ResponseWriter, r *http.Request) (wxnotify.TemplateService, bool) {
	if s.TemplateService == nil {
		s.Error(w, r, unavailable("templates"))
		return nil, false
	}
	return s.TemplateService, true
}

func (s *Server) handleTemplateList(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.templateService(w, r)
	if !ok {
		return
	}
	list, err := svc.FindTemplates(r.Context(), r.PathValue("appid"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &TemplateList{Templates: list})
}

func (s *Server) handleTemplateGet(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.templateService(w, r)
	if !ok {
		return
	}
	t, err := svc.ResolveTemplate(r.Context(), r.PathValue("appid"), r.PathValue("id"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) handleTemplateSync(w http.ResponseWriter, r *http.Request) {
	res, err := s.actTemplateSync(r, r.PathValue("appid"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// handleTemplateAdd adds a library title through WeChat: 201 with the template.
func (s *Server) handleTemplateAdd(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.templateService(w, r)
	if !ok {
		return
	}
	var req wxnotify.TemplateAdd
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	t, err := svc.AddTemplate(r.Context(), r.PathValue("appid"), &req)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

func (s *Server) handleTemplateDelete(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.templateService(w, r)
	if !ok {
		return
	}
	if err := svc.DeleteTemplate(r.Context(), r.PathValue("appid"), r.PathValue("id")); err != nil {
		s.Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleTemplateTruncate(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.templateService(w, r)
	if !ok {
		return
	}
	var req TemplateTruncateRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	t, err := svc.SetTruncation(r.Context(), r.PathValue("appid"), r.PathValue("id"), req.Keys)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) handleTemplateAliasSet(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.templateService(w, r)
	if !ok {
		return
	}
	var req TemplateAliasRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	a := &wxnotify.TemplateAlias{AppID: r.PathValue("appid"), Alias: r.PathValue("alias"), TemplateID: req.TemplateID}
	if err := svc.SetAlias(r.Context(), a.AppID, a.Alias, a.TemplateID); err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) handleTemplateAliasDelete(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.templateService(w, r)
	if !ok {
		return
	}
	if err := svc.DeleteAlias(r.Context(), r.PathValue("appid"), r.PathValue("alias")); err != nil {
		s.Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleTemplateLibrary lists library titles. Query: kind (subscribe, the
// default, or template), category (comma-separated category ids; default
// every category of the account), offset, limit.
func (s *Server) handleTemplateLibrary(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.templateService(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	f := wxnotify.LibraryFilter{Kind: wxnotify.MessageKind(q.Get("kind"))}
	if err := libraryKind(f.Kind); err != nil {
		s.Error(w, r, err)
		return
	}
	var err error
	if f.Offset, err = intParam(q.Get("offset"), "offset"); err != nil {
		s.Error(w, r, err)
		return
	}
	if f.Limit, err = intParam(q.Get("limit"), "limit"); err != nil {
		s.Error(w, r, err)
		return
	}
	if c := q.Get("category"); c != "" {
		for part := range strings.SplitSeq(c, ",") {
			id, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil {
				s.Error(w, r, wxnotify.FieldErrorf("category", "category ids are numbers, comma-separated"))
				return
			}
			f.CategoryIDs = append(f.CategoryIDs, id)
		}
	}
	page, err := svc.FindLibraryTitles(r.Context(), r.PathValue("appid"), f)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) handleTemplateCategories(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.templateService(w, r)
	if !ok {
		return
	}
	cats, err := svc.FindLibraryCategories(r.Context(), r.PathValue("appid"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &TemplateCategoryList{Categories: cats})
}

// handleTemplateLibraryKeywords lists a library title's keywords. Query:
// kind (subscribe, the default, or template).
func (s *Server) handleTemplateLibraryKeywords(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.templateService(w, r)
	if !ok {
		return
	}
	kind := wxnotify.MessageKind(r.URL.Query().Get("kind"))
	if err := libraryKind(kind); err != nil {
		s.Error(w, r, err)
		return
	}
	kws, err := svc.FindLibraryKeywords(r.Context(), r.PathValue("appid"), kind, r.PathValue("tid"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &TemplateKeywordList{Keywords: kws})
}

// intParam parses an optional non-negative integer query parameter.
func intParam(v, field string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, wxnotify.FieldErrorf(field, "%s must be a non-negative integer", field)
	}
	return n, nil
}

// libraryKind checks the kind filter of the library routes: subscribe (or
// "", the default) or template.
func libraryKind(k wxnotify.MessageKind) error {
	if k != "" && k != wxnotify.MessageSubscribe && k != wxnotify.MessageTemplate {
		return wxnotify.FieldErrorf("kind", "unknown kind %q: want subscribe or template", k)
	}
	return nil
}
