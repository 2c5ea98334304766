package http_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	wxhttp "github.com/wxnotify/wxnotify/http"
)

// openAPIDoc is the part of the OpenAPI document the tests read.
type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas   map[string]json.RawMessage `json:"schemas"`
		Responses map[string]json.RawMessage `json:"responses"`
	} `json:"components"`
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// normalRoute writes "GET /v1/messages/{id}" and the OpenAPI path
// "/v1/messages/{message_id}" alike: "GET /v1/messages/{}". A Go pattern's
// trailing-slash subtree ("/dashboard/") and {name...} become "{}" too.
func normalRoute(method, path string) string {
	return strings.ToUpper(method) + " " + pathParam.ReplaceAllString(path, "{}")
}

// TestOpenAPI_Complete keeps http/openapi.json true: every route the Server
// registers is documented, and every documented route is registered.
func TestOpenAPI_Complete(t *testing.T) {
	t.Parallel()
	var doc openAPIDoc
	if err := json.Unmarshal(wxhttp.OpenAPI(), &doc); err != nil {
		t.Fatalf("http/openapi.json is not valid JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi=%q, want 3.x", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "parameters", "summary", "description", "servers":
				continue
			}
			documented[normalRoute(method, path)] = true
		}
	}
	registered := map[string]bool{}
	for _, pattern := range wxhttp.NewServer().Routes() {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			continue // "/": the catch-all 404, not a route
		}
		if strings.HasSuffix(path, "/") && path != "/" {
			path += "{}" // a subtree pattern ("GET /dashboard/") documented as /dashboard/{path}
		}
		registered[normalRoute(method, path)] = true
		if !documented[normalRoute(method, path)] {
			t.Errorf("route %q is registered but not in http/openapi.json: add under \"paths\" the key %q with the operation %q "+
				"(operationId, tags, summary, security, parameters, requestBody, responses; reuse components.schemas and components.responses)",
				pattern, openAPIPath(path), strings.ToLower(method))
		}
	}
	for r := range documented {
		if !registered[r] {
			t.Errorf("http/openapi.json documents %q but no such route is registered: remove it from \"paths\", or register it with s.handle", r)
		}
	}
}

// openAPIPath spells a Go pattern's path as OpenAPI does.
func openAPIPath(path string) string {
	path = strings.ReplaceAll(path, "...}", "}")
	if strings.HasSuffix(path, "/{}") {
		path = strings.TrimSuffix(path, "{}") + "{path}"
	}
	return path
}

// TestOpenAPI_Refs checks that every $ref resolves and operationIds are unique.
func TestOpenAPI_Refs(t *testing.T) {
	t.Parallel()
	raw := wxhttp.OpenAPI()
	var doc openAPIDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`"\$ref":\s*"([^"]+)"`).FindAllStringSubmatch(string(raw), -1) {
		ref := m[1]
		var ok bool
		switch {
		case strings.HasPrefix(ref, "#/components/schemas/"):
			_, ok = doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
		case strings.HasPrefix(ref, "#/components/responses/"):
			_, ok = doc.Components.Responses[strings.TrimPrefix(ref, "#/components/responses/")]
		}
		if !ok {
			t.Errorf("$ref %q does not resolve", ref)
		}
	}
	var ids []string
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			var op struct {
				OperationID string                     `json:"operationId"`
				Responses   map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			if op.OperationID == "" || len(op.Responses) == 0 {
				t.Errorf("%s %s: operationId and responses required", method, path)
			}
			if slices.Contains(ids, op.OperationID) {
				t.Errorf("operationId %q used twice", op.OperationID)
			}
			ids = append(ids, op.OperationID)
		}
	}
}

func TestOpenAPI_Served(t *testing.T) {
	t.Parallel()
	s := openServer(t, func(*wxhttp.Server) {})
	resp, err := http.Get(s.URL() + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
	}
	// The embedded document, with servers naming this server.
	var served, embedded map[string]any
	if err := json.Unmarshal(b, &served); err != nil {
		t.Fatalf("served document: %v", err)
	}
	json.Unmarshal(wxhttp.OpenAPI(), &embedded)
	servers, _ := json.Marshal(served["servers"])
	if want := `[{"description":"this server, as the request reached it","url":"` + s.URL() + `"}]`; string(servers) != want {
		t.Errorf("servers=%s, want %s", servers, want)
	}
	delete(served, "servers")
	delete(embedded, "servers")
	if a, b := fmt.Sprint(served), fmt.Sprint(embedded); a != b {
		t.Error("the served document differs from http/openapi.json beyond servers")
	}
}

// TestOpenAPI_ServersBehindProxy: behind a trusted proxy that says the
// client came over TLS, servers is https on the Host the client used; the
// same header from anyone else is ignored.
func TestOpenAPI_ServersBehindProxy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		trusted string
		want    string
	}{
		{"TrustedProxy", "127.0.0.1", "https://api.example.com"},
		{"Untrusted", "", "http://api.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := openServer(t, func(s *wxhttp.Server) {
				s.TrustedProxies, _ = wxhttp.ParseTrustedProxies(tc.trusted)
			})
			req, _ := http.NewRequest("GET", s.URL()+"/openapi.json", nil)
			req.Host = "api.example.com"
			req.Header.Set("X-Forwarded-Proto", "https")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var doc struct {
				Servers []struct {
					URL string `json:"url"`
				} `json:"servers"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || len(doc.Servers) != 1 || doc.Servers[0].URL != tc.want {
				t.Fatalf("servers=%+v (%v), want %s", doc.Servers, err, tc.want)
			}
		})
	}
}
