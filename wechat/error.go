package wechat

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Class says what a caller should do after an error. Every error the client
// returns has exactly one; ClassOf finds it.
type Class string

const (
	// ClassRetry: nothing is known to be wrong with the request; send it again
	// later, with backoff. WeChat was busy (-1), the network failed or timed
	// out, the answer was HTTP 5xx, 408 or 429, or its body was cut short or
	// garbled. A send that fails this way may or may not have been delivered.
	ClassRetry Class = "retry"

	// ClassThrottle: the app called the endpoint too often (45011, "retry
	// next minute"). Nothing is wrong with the request, nor was it delivered:
	// slow the whole app down, then send it again. It is the app's limit,
	// not the message's fault, so it should not use up the message's retries.
	ClassThrottle Class = "throttle"

	// ClassToken: the access_token is invalid or expired (40001, 40014,
	// 41001, 42001). Fetch a new token, then retry. On the token and login
	// endpoints 40001 instead means a wrong AppSecret and is ClassPermanent.
	ClassToken Class = "token"

	// ClassCredit: this user's permission to receive the message is missing
	// or used up (43101 for subscribe messages; 41028, 41029 for a form_id
	// or prepay_id). Use another credit of the same user, or stop.
	ClassCredit Class = "credit"

	// ClassQuota: the app's daily quota for the endpoint is spent (45009).
	// Retrying today is pointless; hold the work until the quota resets.
	ClassQuota Class = "quota"

	// ClassPermanent: the request itself is wrong (bad openid, template_id,
	// page, data, appid or secret) or the code is one this package does not
	// know. Sending it again gives the same answer.
	ClassPermanent Class = "permanent"
)

// String returns the class name.
func (c Class) String() string { return string(c) }

// ClassOf returns the Class of any error returned by a Client method, and ""
// for nil. Errors the client did not make (or that wrap none of its types)
// are ClassPermanent, except context.Canceled and context.DeadlineExceeded,
// which are ClassRetry: the outcome is unknown, so a caller that gave up on
// purpose should test ctx.Err() before acting on the class.
func ClassOf(err error) Class {
	if err == nil {
		return ""
	}
	var (
		we *Error
		se *StatusError
		de *DecodeError
		ne *NetError
	)
	switch {
	case errors.As(err, &we):
		return we.Class()
	case errors.As(err, &se):
		return se.Class()
	case errors.As(err, &de):
		return ClassRetry
	case errors.As(err, &ne):
		return ClassRetry
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ClassRetry
	}
	return ClassPermanent
}

// classOfCode is the one table from WeChat errcode to Class. Codes not listed
// are ClassPermanent. endpoint matters for 40001 only.
func classOfCode(endpoint string, code int) Class {
	switch code {
	case -1: // system error: "系统繁忙,此时请开发者稍候再试"
		return ClassRetry
	case 45011: // api minute-quota reach limit, must slower, retry next minute
		return ClassThrottle
	case 43108: // concurrent calls to the same openid: another send to the user was in flight
		return ClassRetry

	case 40001: // invalid credential: access_token invalid or not latest;
		// from the token and login endpoints it means the AppSecret is wrong
		if isCredentialEndpoint(endpoint) {
			return ClassPermanent
		}
		return ClassToken
	case 40014: // invalid access_token
		return ClassToken
	case 41001: // access_token missing
		return ClassToken
	case 42001: // access_token expired
		return ClassToken

	case 43101: // user refuse to accept the msg: no subscribe grant left
		return ClassCredit
	case 41028: // invalid form id: form_id/prepay_id wrong or expired
		return ClassCredit
	case 41029: // form id used count reach limit: already consumed
		return ClassCredit

	case 45009: // reach max api daily quota limit
		return ClassQuota

	// Permanent, listed so that the reason is on record:
	case 40003: // invalid openid: touser wrong or of another app
		return ClassPermanent
	case 40037: // invalid template_id
		return ClassPermanent
	case 47003: // argument invalid: data does not fit the template's rules
		return ClassPermanent
	case 41030: // invalid page: page path does not exist in the published app
		return ClassPermanent
	case 40013: // invalid appid
		return ClassPermanent
	case 40125: // invalid appsecret
		return ClassPermanent
	case 40164: // caller IP not in the app's whitelist; an operator must fix it
		return ClassPermanent
	case 40029: // invalid code: js_code wrong, expired or of another app
		return ClassPermanent
	case 40163: // code been used
		return ClassPermanent
	case 40226: // code blocked: high-risk user, login refused
		return ClassPermanent
	case 48001: // api unauthorized: the app lacks this permission, or the token is of another kind of account
		return ClassPermanent
	case 40243: // AppSecret frozen by the operator: no token can be fetched until it is thawed
		return ClassPermanent

	// Malformed requests: a bug in the caller (or this package), never fixed by retrying.
	case 40002: // invalid grant_type: not client_credential (token) or authorization_code (login)
		return ClassPermanent
	case 40066: // invalid url: the path is not an API; api.weixin.qq.com answers it with HTTP 200
		return ClassPermanent
	case 41002: // appid missing
		return ClassPermanent
	case 41004: // appsecret missing
		return ClassPermanent
	case 41008: // missing code: js_code absent or empty on jscode2session
		return ClassPermanent
	case 43002: // require POST method
		return ClassPermanent
	case 44002: // empty post data: a POST endpoint got no body
		return ClassPermanent
	case 47001: // data format error: the body is not the JSON the endpoint takes
		return ClassPermanent
	}
	return ClassPermanent
}

// isCredentialEndpoint reports whether endpoint authenticates with the app
// secret rather than an access_token.
func isCredentialEndpoint(endpoint string) bool {
	switch endpoint {
	case pathToken, pathStableToken, pathCode2Session:
		return true
	}
	return false
}

// Error is a WeChat answer with a non-zero errcode.
type Error struct {
	ErrCode  int    // WeChat's errcode
	ErrMsg   string // WeChat's errmsg, as sent (it may end in "rid: …")
	RID      string // request id parsed from ErrMsg, for WeChat support; may be ""
	Endpoint string // path of the endpoint called, without query
}

func newError(endpoint string, code int, msg string) *Error {
	return &Error{ErrCode: code, ErrMsg: msg, RID: parseRID(msg), Endpoint: endpoint}
}

func (e *Error) Error() string {
	return "wechat: " + e.Endpoint + ": errcode " + strconv.Itoa(e.ErrCode) + ": " + e.ErrMsg
}

// Class returns the Class of the errcode on this endpoint.
func (e *Error) Class() Class { return classOfCode(e.Endpoint, e.ErrCode) }

// parseRID returns the request id WeChat appends to errmsg, as in
// "invalid openid rid: 61b0437c-57de737e-47cbfd49" (also seen without the
// space, and after a comma). It returns "" when there is none.
func parseRID(msg string) string {
	i := strings.LastIndex(msg, "rid:")
	if i < 0 {
		return ""
	}
	s := strings.TrimLeft(msg[i+len("rid:"):], " ")
	if j := strings.IndexAny(s, " ,;]"); j >= 0 {
		s = s[:j]
	}
	return s
}

// StatusError is an HTTP answer outside 2xx, whatever its body (often an
// HTML page from a proxy). The body is not kept: it may echo the request.
type StatusError struct {
	Endpoint   string
	StatusCode int
}

func (e *StatusError) Error() string {
	return "wechat: " + e.Endpoint + ": HTTP " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
}

// Class is ClassRetry for 5xx, 408 and 429, and ClassPermanent otherwise.
func (e *StatusError) Class() Class {
	switch {
	case e.StatusCode >= 500, e.StatusCode == http.StatusRequestTimeout, e.StatusCode == http.StatusTooManyRequests:
		return ClassRetry
	}
	return ClassPermanent
}

// DecodeError is a 2xx answer whose body is not the JSON the endpoint
// documents: not JSON, over MaxBodySize, or missing a field that a success
// must carry (such as access_token).
type DecodeError struct {
	Endpoint string
	Err      error
}

func (e *DecodeError) Error() string {
	return "wechat: " + e.Endpoint + ": decode response: " + e.Err.Error()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// NetError is a failure to send the request or read the answer: DNS, dial,
// TLS, reset, timeout, or a canceled context (errors.Is(err,
// context.Canceled) holds). Unlike *url.Error it never includes the URL, and
// so never the access_token or secret in its query.
type NetError struct {
	Op       string // HTTP method
	Endpoint string // path of the endpoint called, without query
	Err      error  // the cause, with any *url.Error removed
}

func newNetError(method, endpoint string, err error) *NetError {
	for {
		var ue *url.Error
		if !errors.As(err, &ue) {
			break
		}
		err = ue.Err
	}
	return &NetError{Op: method, Endpoint: endpoint, Err: err}
}

func (e *NetError) Error() string { return "wechat: " + e.Op + " " + e.Endpoint + ": " + e.Err.Error() }

func (e *NetError) Unwrap() error { return e.Err }

// Timeout reports whether the failure was a timeout, including an expired
// context deadline.
func (e *NetError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.Is(e.Err, context.DeadlineExceeded) || (errors.As(e.Err, &t) && t.Timeout())
}
