package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/client"
)

// A backend sends a notification and reads its outcome. The stand-in server
// answers as wxnotify does; point client.New at your wxnotify instead.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.Method + " " + r.URL.Path {
		case "POST /v1/messages":
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `{"id":42,"state":"queued","created":true}`)
		case "GET /v1/messages/42":
			fmt.Fprint(w, `{"id":42,"state":"delivered","msgid":"3000000001","attempt_list":[{"n":1,"errcode":0}]}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"code":"not_found","message":"no such message"}}`)
		}
	}))
	defer srv.Close()

	ctx := context.Background()
	c := client.New(srv.URL, "wxk_example_key")
	res, err := c.SendMessage(ctx, &client.SendParams{
		AppID:          "wx0123456789abcdef",
		OpenID:         "oUSER0000000000001",
		TemplateID:     "TEMPLATE_ID",
		Data:           map[string]string{"thing1": "书", "time2": "2026-11-25 10:00"},
		IdempotencyKey: "order-1001-shipped", // a retry never sends twice
	})
	if err != nil {
		fmt.Println(wxnotify.ErrorCode(err), wxnotify.ErrorField(err))
		return
	}
	fmt.Println("queued", res.ID)

	m, attempts, err := c.WaitMessage(ctx, res.ID, 0)
	if err != nil {
		panic(err)
	}
	fmt.Println(m.State, len(attempts), "attempt")

	_, _, err = c.GetMessage(ctx, 7)
	fmt.Println(wxnotify.ErrorCode(err))
	// Output:
	// queued 42
	// delivered 1 attempt
	// not_found
}

// A backend that would rather wait out a short outage than fail: calls
// answered 429 or 503 are sent again after the answer's Retry-After, up to
// three times in all, if the wait is at most 10 seconds. Only idempotent
// calls are retried, so the message carries an Idempotency-Key.
func ExampleWithRetry() {
	c := client.New("http://127.0.0.1:8080", "wxk_example_key",
		client.WithRetry(client.RetryPolicy{MaxAttempts: 3, MaxWait: 10 * time.Second}))
	_, err := c.SendMessage(context.Background(), &client.SendParams{
		AppID: "wx0123456789abcdef", OpenID: "oUSER0000000000001", TemplateID: "order_shipped",
		Data:           map[string]string{"thing1": "书"},
		IdempotencyKey: "order-1001-shipped", // without it, a 503 is returned as it came
	})
	if wxnotify.ErrorCode(err) == wxnotify.EUNAVAILABLE {
		fmt.Println("wxnotify is still unavailable: queue the notification locally and try later")
	}
}
