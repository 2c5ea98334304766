package http

import (
	"bytes"
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3 document of every route the Server registers.
// openapi_test.go fails when a route is missing from it or it names a route
// that does not exist.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the embedded OpenAPI 3 document (JSON).
func OpenAPI() []byte { return bytes.Clone(openAPI) }

func (s *Server) handleOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPI)
}
