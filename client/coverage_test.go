package client_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify/client"
)

// clientMethods names the client method of each operator route
// (/v1/…). A route an operator or a backend calls gets a method.
var clientMethods = map[string]string{
	"GET /v1/webhooks/{id}/deliveries":                 "ListWebhookDeliveries",
	"POST /v1/webhooks/{id}/deliveries/replay":         "ReplayWebhookDeliveries",
	"POST /v1/messages":                                "SendMessage",
	"GET /v1/messages":                                 "ListMessages",
	"GET /v1/messages/{id}":                            "GetMessage",
	"POST /v1/messages/{id}/cancel":                    "CancelMessage",
	"POST /v1/messages/{id}/retry":                     "RetryMessage",
	"POST /v1/broadcasts":                              "CreateBroadcast",
	"GET /v1/broadcasts":                               "ListBroadcasts",
	"GET /v1/broadcasts/{id}":                          "GetBroadcast",
	"POST /v1/schedules":                               "CreateSchedule",
	"GET /v1/schedules":                                "ListSchedules",
	"GET /v1/schedules/{id}":                           "GetSchedule",
	"DELETE /v1/schedules/{id}":                        "DeleteSchedule",
	"POST /v1/schedules/{id}/pause":                    "PauseSchedule",
	"POST /v1/schedules/{id}/resume":                   "ResumeSchedule",
	"POST /v1/webhooks":                                "CreateWebhook",
	"GET /v1/webhooks":                                 "ListWebhooks",
	"DELETE /v1/webhooks/{id}":                         "DeleteWebhook",
	"GET /v1/apps/{appid}/access_token":                "AccessToken",
	"POST /v1/apps/{appid}/access_token/invalidate":    "InvalidateToken",
	"POST /v1/apps/{appid}/access_token/refresh":       "RefreshToken",
	"GET /v1/apps/{appid}/token_status":                "TokenStatus",
	"GET /v1/apps/{appid}/credits/stats":               "CreditStats",
	"POST /v1/apps/{appid}/credits":                    "AddCredits",
	"GET /v1/apps/{appid}/templates":                   "ListTemplates",
	"POST /v1/apps/{appid}/templates":                  "AddTemplate",
	"POST /v1/apps/{appid}/templates/sync":             "SyncTemplates",
	"GET /v1/apps/{appid}/templates/{id}":              "GetTemplate",
	"DELETE /v1/apps/{appid}/templates/{id}":           "DeleteTemplate",
	"PUT /v1/apps/{appid}/templates/{id}/truncate":     "SetTemplateTruncation",
	"PUT /v1/apps/{appid}/template_aliases/{alias}":    "SetTemplateAlias",
	"DELETE /v1/apps/{appid}/template_aliases/{alias}": "DeleteTemplateAlias",
	"GET /v1/apps/{appid}/template_library":            "ListLibraryTitles",
	"GET /v1/apps/{appid}/template_library/categories": "ListLibraryCategories",
	"GET /v1/apps/{appid}/template_library/{tid}":      "ListLibraryKeywords",
	"GET /v1/jobs":                                     "Jobs",
	"GET /v1/audit":                                    "ListAudit",
}

// TestClient_CoversEveryOperatorRoute reads the server's OpenAPI document
// (a file: the client imports no server package) and fails on an operator
// route that has no client method, so a route added to the server without
// one is noticed here.
func TestClient_CoversEveryOperatorRoute(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../http/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("http/openapi.json: %v", err)
	}
	typ := reflect.TypeOf(&client.Client{})
	var seen int
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/v1/") {
			continue
		}
		for method := range ops {
			if !slices.Contains([]string{"get", "post", "put", "patch", "delete"}, method) {
				continue // parameters, summary, …
			}
			seen++
			route := strings.ToUpper(method) + " " + path
			name, ok := clientMethods[route]
			if !ok {
				t.Errorf("%s: no client method; add one (and a line to clientMethods)", route)
				continue
			}
			if _, ok := typ.MethodByName(name); !ok {
				t.Errorf("%s: clientMethods names %s, which *client.Client does not have", route, name)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("read only %d operator routes from http/openapi.json: has its layout changed?", seen)
	}
	for route, name := range clientMethods {
		if _, ok := typ.MethodByName(name); !ok {
			t.Errorf("clientMethods: %s names %s, which *client.Client does not have", route, name)
		}
	}
}
