package http_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/wxnotify/wxnotify"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/internal/openapitest"
	"github.com/wxnotify/wxnotify/mock"
)

// TestMain checks every exchange the tests make through net/http's default
// transport against the document the server serves: a response the
// document does not describe fails the request that got it, and so the
// test (internal/openapitest).
func TestMain(m *testing.M) {
	http.DefaultTransport = &openapitest.Transport{Base: http.DefaultTransport}
	os.Exit(m.Run())
}

// TestOpenAPI_Valid is the document's linter: kin-openapi's validation of
// the OpenAPI 3 rules (schemas, references, parameters, examples).
func TestOpenAPI_Valid(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(wxhttp.OpenAPI())
	if err != nil {
		t.Fatalf("http/openapi.json does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("http/openapi.json: %v", err)
	}
}

// TestOpenAPI_EnumFilters: every query parameter the document restricts to
// a list of values is enforced: another value is 400 naming it, before any
// service is called (the services here fail every call).
func TestOpenAPI_EnumFilters(t *testing.T) {
	t.Parallel()
	s := openServer(t, func(s *wxhttp.Server) {
		// Services whose every method panics (the server answers 500).
		s.MessageService = struct{ wxnotify.MessageService }{}
		s.TemplateService = struct{ wxnotify.TemplateService }{}
		s.AuditService = struct{ wxnotify.AuditService }{}
		s.BroadcastService = &mock.BroadcastService{}
		s.WebhookService = &mock.WebhookService{}
		s.CreditService = &mock.CreditService{}
	})
	doc, err := openapi3.NewLoader().LoadFromData(wxhttp.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	fill := strings.NewReplacer("{appid}", appA, "{id}", "3", "{tid}", "1")
	n := 0
	for path, item := range doc.Paths.Map() {
		if !strings.HasPrefix(path, "/v1/") {
			continue // the dashboard's and the callback's are checked by their own tests
		}
		for method, op := range item.Operations() {
			for _, p := range op.Parameters {
				if p.Value.In != "query" || p.Value.Schema == nil || len(p.Value.Schema.Value.Enum) == 0 {
					continue
				}
				n++
				url := s.URL() + fill.Replace(path) + "?" + p.Value.Name + "=bogus"
				t.Run(method+" "+path+" "+p.Value.Name, func(t *testing.T) {
					resp, out := do(t, method, url, "key-a", "")
					wantError(t, resp, out, 400, p.Value.Name)
				})
			}
		}
	}
	if n < 5 {
		t.Fatalf("%d enum query parameters in the document, want at least 5", n)
	}
}
