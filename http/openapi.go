package http

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
)

// openAPI is the OpenAPI 3 document of every route the Server registers.
// openapi_test.go fails when a route is missing from it or it names a route
// that does not exist, and the end-to-end tests check every exchange
// against it (internal/openapitest).
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the embedded OpenAPI 3 document (JSON). Its servers entry
// is "/" (wherever the document is served); GET /openapi.json names the
// server the request reached instead.
func OpenAPI() []byte { return bytes.Clone(openAPI) }

// openAPIMembers is the document's top-level members in their order, read
// once, so each answer can put the request's server in.
var openAPIMembers = sync.OnceValues(func() ([]string, map[string]json.RawMessage) {
	var keys []string
	vals := map[string]json.RawMessage{}
	dec := json.NewDecoder(bytes.NewReader(openAPI))
	if _, err := dec.Token(); err != nil { // {
		panic("http/openapi.json: " + err.Error())
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			panic("http/openapi.json: " + err.Error())
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			panic("http/openapi.json: " + err.Error())
		}
		k := tok.(string)
		keys = append(keys, k)
		vals[k] = v
	}
	return keys, vals
})

// serverURL is the base URL the client used to reach the API: the
// request's Host, and https when it came over TLS here or through a
// trusted proxy that says so (X-Forwarded-Proto, proxy.go).
func (s *Server) serverURL(r *http.Request) string {
	host := r.Host
	if host == "" || strings.ContainsAny(host, "/\\ \"<>") {
		return "/"
	}
	scheme := "http"
	if s.viaTLS(r) {
		scheme = "https"
	}
	return scheme + "://" + host
}

// handleOpenAPI serves the document with servers set to the URL of the
// request, so a client generated from it, or a "try it" console, talks to
// the server it was read from.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	keys, vals := openAPIMembers()
	servers, _ := json.Marshal([]map[string]string{{"url": s.serverURL(r), "description": "this server, as the request reached it"}})
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		if k == "servers" {
			b.Write(servers)
		} else {
			b.Write(vals[k])
		}
	}
	b.WriteString("}\n")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Vary", "Host, X-Forwarded-Proto")
	_, _ = w.Write(b.Bytes())
}
