package wechat_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/wxnotify/wxnotify/wechat"
)

func ExampleClient_SendSubscribe() {
	// A stand-in for api.weixin.qq.com that refuses the send as WeChat does
	// when the user has no subscription left.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"errcode":43101,"errmsg":"user refuse to accept the msg rid: 6083e5cc-50cbdcb3-53499677"}`)
	}))
	defer srv.Close()

	c := wechat.New(wechat.Options{BaseURL: srv.URL})
	_, err := c.SendSubscribe(context.Background(), "ACCESS_TOKEN", &wechat.SubscribeMessage{
		ToUser:     "oKXUCj1BVfk4lD0Gkpk9IGhS0bq8",
		TemplateID: "9Aw5ZV1j9xdWTFEkqCpZ7jWySL7aGN6rQom4gXINfJs",
		Data:       wechat.Data{"thing1": "Your order has shipped"},
	})
	switch wechat.ClassOf(err) {
	case "":
		fmt.Println("sent")
	case wechat.ClassCredit:
		fmt.Println("no credit:", err)
	case wechat.ClassToken:
		fmt.Println("refresh the token and retry")
	default:
		fmt.Println(wechat.ClassOf(err), err)
	}
	// Output:
	// no credit: wechat: /cgi-bin/message/subscribe/send: errcode 43101: user refuse to accept the msg rid: 6083e5cc-50cbdcb3-53499677
}
