// Package wechatsim simulates the WeChat mini program server API (api.weixin.qq.com) as an
// http.Handler, for tests, benchmarks and `wxnotify sim`.
//
// It is a second, independent reading of WeChat's official reference: it imports nothing of
// wxnotify, so the Go client (package wechat) and this simulator cannot share one misreading.
// Where the real server is known to differ from its documentation, the simulator behaves like
// the real server:
//
//   - subscribe send answers msgid as a JSON number above 2^53 (clients decoding it into a
//     float64 lose precision, as they would in production);
//   - /sns/jscode2session labels its JSON text/plain; other endpoints use
//     "application/json; encoding=utf-8";
//   - errmsg carries a trailing " rid: xxxxxxxx-xxxxxxxx-xxxxxxxx", and a missing data value
//     is reported as "argument invalid! data.thing1.value is emtpy" (sic);
//   - in JSON callbacks a List with one entry is an object, with several an array, and
//     CreateTime is a number.
//
// # API endpoints
//
//	GET  /cgi-bin/token                          getAccessToken
//	POST /cgi-bin/stable_token                   getStableAccessToken
//	GET  /sns/jscode2session                     code2Session
//	POST /cgi-bin/message/subscribe/send         subscribeMessage.send
//	POST /cgi-bin/message/wxopen/template/send   templateMessage.send (legacy)
//	GET  /wxaapi/newtmpl/getcategory             subscribe template library
//	GET  /wxaapi/newtmpl/getpubtemplatetitles
//	GET  /wxaapi/newtmpl/getpubtemplatekeywords
//	POST /wxaapi/newtmpl/addtemplate
//	POST /wxaapi/newtmpl/deltemplate
//	GET  /wxaapi/newtmpl/gettemplate
//	POST /cgi-bin/wxopen/template/library/list   legacy template library
//	POST /cgi-bin/wxopen/template/library/get
//	POST /cgi-bin/wxopen/template/add
//	POST /cgi-bin/wxopen/template/list
//	POST /cgi-bin/wxopen/template/del
//
// Each handler's comment lists its errcodes in the order they are checked. Common to all:
// 41001 access_token missing, 40001 access_token unknown/revoked/superseded, 42001 expired,
// 43002 a POST-only endpoint called otherwise, 44002 an empty body on a POST-only endpoint,
// 47001 a body that does not parse; on the sends, 40003 a touser the app has never seen and
// 43108 a send to an openid while another to it is in flight. Unknown paths are HTTP 200
// with errcode 40066 "invalid url". Every errcode is sent with HTTP 200, as WeChat does.
//
// # Time
//
// Every expiry and daily quota uses the simulator clock (Server.Now). With Options.Now nil the
// clock is wall time plus whatever Advance (or POST /sim/clock/advance) added, so tests jump
// instead of sleeping. Quota days end at midnight UTC+8 (China Standard Time), as WeChat's do.
//
// # Control API
//
// The same handler serves a JSON control API under /sim/, so a standalone simulator can be
// driven with curl or by tests that run the real binary. Control calls are never counted,
// delayed or faulted; they answer HTTP 4xx with {"error": "..."} on bad input.
//
// Register an app (fields as in App, snake_case):
//
//	curl -XPOST localhost:8080/sim/apps -d '{"appid":"wx1","secret":"s3cret","pages":["pages/index/index"],"callback_url":"http://localhost:9000/wechat/callback","callback_token":"tok","encoding_aes_key":"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG","safe_mode":true}'
//	curl localhost:8080/sim/apps                                     # {"apps":["wx1"]}
//
// Stand in for the mini program (wx.login, form submit, WeChat Pay, subscribe popup):
//
//	curl -XPOST localhost:8080/sim/login_codes -d '{"appid":"wx1","openid":"oU1"}'   # {"code":"..."}
//	curl -XPOST localhost:8080/sim/form_ids    -d '{"appid":"wx1","openid":"oU1"}'   # {"form_id":"..."}
//	curl -XPOST localhost:8080/sim/prepay_ids  -d '{"appid":"wx1","openid":"oU1"}'   # {"prepay_id":"..."}
//	curl -XPOST localhost:8080/sim/subscriptions -d '{"appid":"wx1","openid":"oU1","template_id":"TPL","count":3}'   # {"remaining":3}
//
// Put a template straight into an app (keys are data keys; legacy templates use keyword1..N):
//
//	curl -XPOST localhost:8080/sim/templates -d '{"appid":"wx1","title":"订单发货通知","keywords":[{"key":"thing1","name":"商品名称"},{"key":"time2","name":"发货时间"}]}'   # {"template_id":"..."}
//	curl -XPOST localhost:8080/sim/templates -d '{"appid":"wx1","title":"购买成功通知","legacy":true,"keywords":[{"name":"物品名称"},{"name":"购买时间"}]}'
//
// Clock, latency, faults, token revocation:
//
//	curl localhost:8080/sim/clock                                            # {"now":"..."}
//	curl -XPOST localhost:8080/sim/clock/advance -d '{"duration":"2h"}'      # or {"seconds":7200}
//	curl -XPOST localhost:8080/sim/latency -d '{"fixed":"20ms","jitter":"10ms"}'
//	curl -XPOST localhost:8080/sim/faults -d '{"path":"/cgi-bin/message/subscribe/send","errcode":-1,"count":3}'
//	curl -XPOST localhost:8080/sim/faults -d '{"probability":0.05,"reset":true}'
//	curl -XPOST localhost:8080/sim/faults -d '{"appid":"wx1","hang":true,"count":1}'
//	curl -XDELETE localhost:8080/sim/faults
//	curl -XPOST localhost:8080/sim/revoke -d '{"appid":"wx1"}'
//
// Inspect (inbox without openid lists the whole app; calls takes optional path and appid):
//
//	curl 'localhost:8080/sim/inbox?appid=wx1&openid=oU1'
//	curl 'localhost:8080/sim/calls?path=/cgi-bin/message/subscribe/send&appid=wx1'   # {"count":N,"delivered":M}
//
// Push a signed (and, in safe mode, encrypted) event to the app's callback URL:
//
//	curl -XPOST localhost:8080/sim/events -d '{"appid":"wx1","type":"subscribe_msg_popup_event","openid":"oU1","list":[{"template_id":"TPL","subscribe_status":"accept"}]}'
//
// A human-readable page of recent deliveries is at GET /sim/ (also /sim/inbox.html).
//
// # Known limits
//
// The simulator knows an openid once the app has seen it (a login code, a form_id or
// prepay_id, a grant or a delivery); it does not push subscribe_msg_sent_event by itself
// after a send, and PushEvent does not
// grant acceptances (call GrantSubscribe). Per-minute rate limits (45011) are not simulated;
// inject them as faults. The template library is a small invented seed.
package wechatsim
