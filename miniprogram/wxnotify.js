/**
 * wxnotify.js — mini-program helper for a wxnotify server.
 *
 * Install it from npm (`npm install @wxnotify/miniprogram`, then DevTools'
 * 构建 npm) or copy this one file into your mini program, and require it
 * from pages:
 *
 *   const wxnotify = require('@wxnotify/miniprogram')   // or require('../../utils/wxnotify.js')
 *   const client = wxnotify.create({ baseURL: 'https://notify.example.com', appId: 'wx0123456789abcdef' })
 *   await client.login()                          // wx.login → session, cached in storage
 *   client.reportFormIds(e.detail.formId)         // from <form report-submit>; batched, debounced
 *   const res = await client.requestSubscribe(['TEMPLATE_ID'])   // popup + report of the answers
 *   const { credits } = await client.credits()    // what this user can still be sent
 *
 * The user is always the one the session names: never send an openid (the
 * server refuses bodies that do). Sessions are cached with
 * setStorageSync and renewed with login on a 401. The base URL's domain
 * must be listed in the mini program's request legal domains.
 *
 * The platform is injectable, so the helper runs under uni-app and Taro as
 * well as in a native mini program: `wx` takes any object with wx's API
 * (`uni`, `Taro`), and `request`, `login`, `requestSubscribeMessage` and
 * `storage` replace single functions. Each function is called as wx's is,
 * with success and fail callbacks; one that returns a Promise instead
 * (Taro.request, a promisified uni API) works too.
 *
 * Every method returns a Promise. A failed call rejects with an Error whose
 * `code` is the server's error code (invalid, unauthorized, rate_limited,
 * unavailable, …), `status` the HTTP status, and `field` the input at fault.
 * The session token is never put in an error or a log.
 *
 * wxnotify.d.ts beside this file declares the whole API for TypeScript.
 */

var MOCK_FORM_ID = 'the formId is a mock one' // what DevTools reports instead of a form_id
var MAX_FORM_IDS = 100 // per request, as the server allows

// codeOfStatus is the error code of an answer whose body is not wxnotify's
// (a proxy's error page), as the Go client reads one.
function codeOfStatus(status) {
  return { 400: 'invalid', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 429: 'rate_limited', 503: 'unavailable' }[status] || 'internal'
}

function WxnotifyError(message, code, status, field) {
  var e = new Error(message)
  e.name = 'WxnotifyError'
  e.code = code
  e.status = status
  e.field = field
  return e
}

/**
 * callPlatform calls fn (wx.request, wx.login, …) with opts plus success
 * and fail callbacks, and settles once: from the callbacks, or from the
 * Promise fn returns where it returns one (Taro's and uni-app's promisified
 * APIs), whichever comes first.
 */
function callPlatform(fn, opts) {
  return new Promise(function (resolve, reject) {
    var settled = false
    function ok(v) { if (!settled) { settled = true; resolve(v) } }
    function fail(e) { if (!settled) { settled = true; reject(e) } }
    var args = {}
    Object.keys(opts).forEach(function (k) { args[k] = opts[k] })
    args.success = ok
    args.fail = fail
    var r
    try {
      r = fn(args)
    } catch (e) {
      return fail(e)
    }
    if (r && typeof r.then === 'function') r.then(ok, fail)
  })
}

/**
 * create returns a client for one app.
 *
 * options.baseURL     the wxnotify server, e.g. 'https://notify.example.com' (required)
 * options.appId       the mini program's appid (required)
 * options.storageKey  where the session is cached (default 'wxnotify_session')
 * options.debounceMs  how long reportFormIds waits to batch (default 1000)
 * options.wx          an object with wx's API: wx, uni or Taro (default the
 *                     global wx, else the global uni)
 * options.request     replaces wx.request ({url, method, data, header, dataType, success, fail})
 * options.login       replaces wx.login ({success({code}), fail})
 * options.requestSubscribeMessage  replaces wx.requestSubscribeMessage ({tmplIds, success, fail})
 * options.storage     replaces the storage: {getStorageSync, setStorageSync, removeStorageSync}
 */
function create(options) {
  var o = options || {}
  if (!o.baseURL || !o.appId) throw new Error('wxnotify: baseURL and appId are required')
  var api = o.wx || (typeof wx !== 'undefined' ? wx : null) || (typeof uni !== 'undefined' ? uni : null)
  function platform(name) {
    if (typeof o[name] === 'function') return o[name]
    if (api && typeof api[name] === 'function') return function (args) { return api[name](args) }
    throw new Error('wxnotify: no ' + name + ': pass options.wx (wx, uni or Taro) or options.' + name)
  }
  var request = platform('request')
  var wxLogin = platform('login')
  var subscribe = o.requestSubscribeMessage || (api && api.requestSubscribeMessage ? platform('requestSubscribeMessage') : null)
  var storage = o.storage || api
  if (!storage || typeof storage.getStorageSync !== 'function') {
    throw new Error('wxnotify: no storage: pass options.wx (wx, uni or Taro) or options.storage')
  }
  var base = o.baseURL.replace(/\/+$/, '') + '/mp/v1/apps/' + o.appId
  var storageKey = o.storageKey || 'wxnotify_session'
  var debounceMs = o.debounceMs == null ? 1000 : o.debounceMs

  var loggingIn = null // the login in flight, shared by concurrent callers
  var pending = [] // form_ids waiting for the debounce
  var waiters = [] // {resolve, reject} of reportFormIds calls in the batch
  var timer = null

  function now() { return Date.now() }

  function cached() {
    try {
      var s = storage.getStorageSync(storageKey)
      // Renew a minute early, so a request never carries a token that
      // expires in flight.
      if (s && s.token && s.expiresAt - 60000 > now()) return s
    } catch (e) { /* storage unavailable: log in again */ }
    return null
  }

  function forget() {
    try { storage.removeStorageSync(storageKey) } catch (e) { /* ignore */ }
  }

  function send(method, path, data, token) {
    var header = { 'Content-Type': 'application/json' }
    if (token) header.Authorization = 'Bearer ' + token
    return callPlatform(request, {
      url: base + path,
      method: method,
      data: data,
      header: header,
      dataType: 'json'
    }).then(function (res) {
      res = res || {}
      var status = res.statusCode != null ? res.statusCode : res.status // status: some platforms' request
      var body = res.data
      if (typeof body === 'string' && body !== '') {
        try { body = JSON.parse(body) } catch (e) { /* not JSON: a proxy's page */ }
      }
      if (status >= 200 && status < 300) return body
      var err = (body && body.error) || {}
      throw WxnotifyError(err.message || ('HTTP ' + status), err.code || codeOfStatus(status), status, err.field)
    }, function (e) {
      throw WxnotifyError((e && e.errMsg) || 'request failed', 'unavailable', 0)
    })
  }

  /** login runs wx.login and exchanges its code for a session (cached). */
  function login() {
    if (loggingIn) return loggingIn
    loggingIn = callPlatform(wxLogin, {}).then(function (r) {
      if (!r || !r.code) throw WxnotifyError('login gave no code', 'unavailable', 0)
      return send('POST', '/login', { code: r.code })
    }, function (e) {
      throw WxnotifyError((e && e.errMsg) || 'login failed', 'unavailable', 0)
    }).then(function (body) {
      var s = { token: body.session_token, expiresAt: Date.parse(body.expires_at) }
      try { storage.setStorageSync(storageKey, s) } catch (e) { /* keep it in memory only */ }
      return s
    })
    var done = function () { loggingIn = null }
    loggingIn.then(done, done)
    return loggingIn
  }

  // call sends an authenticated request, logging in first if needed and
  // once more if the server says the session is no longer valid.
  function call(method, path, data) {
    var s = cached()
    var first = s ? Promise.resolve(s) : login()
    return first.then(function (s) {
      return send(method, path, data, s.token).catch(function (err) {
        if (err.status !== 401) throw err
        forget()
        return login().then(function (s2) { return send(method, path, data, s2.token) })
      })
    })
  }

  function flush() {
    timer = null
    var ids = pending
    var ws = waiters
    pending = []
    waiters = []
    var batches = []
    for (var i = 0; i < ids.length; i += MAX_FORM_IDS) {
      batches.push(call('POST', '/form_ids', { form_ids: ids.slice(i, i + MAX_FORM_IDS) }))
    }
    return Promise.all(batches).then(function (rs) {
      var added = rs.reduce(function (n, r) { return n + (r.added || 0) }, 0)
      ws.forEach(function (w) { w.resolve({ added: added }) })
    }, function (err) {
      ws.forEach(function (w) { w.reject(err) })
    })
  }

  /**
   * reportFormIds queues form_ids (one string or an array) and sends them
   * in one request after debounceMs without further calls. The DevTools mock
   * form_id and empty values are dropped. It resolves with {added} for the
   * whole batch.
   */
  function reportFormIds(ids) {
    var list = [].concat(ids || []).filter(function (id) {
      return typeof id === 'string' && id !== '' && id !== MOCK_FORM_ID && pending.indexOf(id) < 0
    })
    return new Promise(function (resolve, reject) {
      pending = pending.concat(list)
      if (pending.length === 0) return resolve({ added: 0 })
      waiters.push({ resolve: resolve, reject: reject })
      if (timer) clearTimeout(timer)
      timer = setTimeout(flush, debounceMs)
    })
  }

  /**
   * requestSubscribe shows wx.requestSubscribeMessage for tmplIds (up to 3
   * one-time templates) and reports the user's answers. It resolves with the
   * result object, {TEMPLATE_ID: 'accept'|'reject'|'ban'|'filter', errMsg},
   * once the server recorded it; must be called from a tap handler.
   */
  function requestSubscribe(tmplIds) {
    if (!subscribe) {
      return Promise.reject(WxnotifyError('no requestSubscribeMessage: pass options.wx or options.requestSubscribeMessage', 'invalid', 0))
    }
    return callPlatform(subscribe, { tmplIds: tmplIds }).then(function (res) {
      var answers = {}
      Object.keys(res || {}).forEach(function (k) {
        if (k === 'errMsg' || k === 'errCode') return
        answers[k] = res[k]
      })
      if (Object.keys(answers).length === 0) return res
      return call('POST', '/subscriptions', answers).then(function () { return res })
    }, function (e) {
      throw WxnotifyError((e && e.errMsg) || 'requestSubscribeMessage failed', 'invalid', 0, e && e.errCode != null ? String(e.errCode) : undefined)
    })
  }

  /** credits resolves with {credits: [{kind, template_id, credits, uses}]}. */
  function credits() {
    return call('GET', '/credits')
  }

  return {
    login: login,
    reportFormIds: reportFormIds,
    flushFormIds: function () { if (timer) { clearTimeout(timer); return flush() } return Promise.resolve() },
    requestSubscribe: requestSubscribe,
    credits: credits,
    logout: forget
  }
}

/** isWxnotifyError tells an error of this helper from any other. */
function isWxnotifyError(e) {
  return !!e && e.name === 'WxnotifyError' && typeof e.code === 'string'
}

module.exports = { create: create, isWxnotifyError: isWxnotifyError, MOCK_FORM_ID: MOCK_FORM_ID }
module.exports.default = module.exports // import wxnotify from '@wxnotify/miniprogram'

