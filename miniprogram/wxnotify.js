/**
 * wxnotify.js — mini-program helper for a wxnotify server.
 *
 * Copy this file into your mini program and require it from pages:
 *
 *   const wxnotify = require('../../utils/wxnotify.js')
 *   const client = wxnotify.create({ baseURL: 'https://notify.example.com', appId: 'wx0123456789abcdef' })
 *   await client.login()                          // wx.login → session, cached in storage
 *   client.reportFormIds(e.detail.formId)         // from <form report-submit>; batched, debounced
 *   const res = await client.requestSubscribe(['TEMPLATE_ID'])   // popup + report of the answers
 *   const { credits } = await client.credits()    // what this user can still be sent
 *
 * The user is always the one the session names: never send an openid (the
 * server refuses bodies that do). Sessions are cached with
 * wx.setStorageSync and renewed with wx.login on a 401. The base URL's
 * domain must be listed in the mini program's request legal domains.
 *
 * Every method returns a Promise. A failed call rejects with an Error whose
 * `code` is the server's error code (invalid, unauthorized, rate_limited,
 * unavailable, …), `status` the HTTP status, and `field` the input at fault.
 */

var MOCK_FORM_ID = 'the formId is a mock one' // what DevTools reports instead of a form_id
var MAX_FORM_IDS = 100 // per request, as the server allows

function WxnotifyError(message, code, status, field) {
  var e = new Error(message)
  e.name = 'WxnotifyError'
  e.code = code
  e.status = status
  e.field = field
  return e
}

/**
 * create returns a client for one app.
 *
 * options.baseURL     the wxnotify server, e.g. 'https://notify.example.com' (required)
 * options.appId       the mini program's appid (required)
 * options.storageKey  where the session is cached (default 'wxnotify_session')
 * options.debounceMs  how long reportFormIds waits to batch (default 1000)
 * options.wx          the wx object (default the global wx; for tests)
 */
function create(options) {
  var o = options || {}
  if (!o.baseURL || !o.appId) throw new Error('wxnotify: baseURL and appId are required')
  var wxo = o.wx || (typeof wx !== 'undefined' ? wx : null)
  if (!wxo) throw new Error('wxnotify: no wx object')
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
      var s = wxo.getStorageSync(storageKey)
      // Renew a minute early, so a request never carries a token that
      // expires in flight.
      if (s && s.token && s.expiresAt - 60000 > now()) return s
    } catch (e) { /* storage unavailable: log in again */ }
    return null
  }

  function forget() {
    try { wxo.removeStorageSync(storageKey) } catch (e) { /* ignore */ }
  }

  function send(method, path, data, token) {
    return new Promise(function (resolve, reject) {
      var header = { 'Content-Type': 'application/json' }
      if (token) header.Authorization = 'Bearer ' + token
      wxo.request({
        url: base + path,
        method: method,
        data: data,
        header: header,
        dataType: 'json',
        success: function (res) {
          if (res.statusCode >= 200 && res.statusCode < 300) return resolve(res.data)
          var err = (res.data && res.data.error) || {}
          reject(WxnotifyError(err.message || ('HTTP ' + res.statusCode), err.code || 'internal', res.statusCode, err.field))
        },
        fail: function (e) {
          reject(WxnotifyError((e && e.errMsg) || 'request failed', 'unavailable', 0))
        }
      })
    })
  }

  /** login runs wx.login and exchanges its code for a session (cached). */
  function login() {
    if (loggingIn) return loggingIn
    loggingIn = new Promise(function (resolve, reject) {
      wxo.login({
        success: function (r) {
          if (!r.code) return reject(WxnotifyError('wx.login gave no code', 'unavailable', 0))
          send('POST', '/login', { code: r.code }).then(function (body) {
            var s = { token: body.session_token, expiresAt: Date.parse(body.expires_at) }
            try { wxo.setStorageSync(storageKey, s) } catch (e) { /* keep it in memory only */ }
            resolve(s)
          }, reject)
        },
        fail: function (e) { reject(WxnotifyError((e && e.errMsg) || 'wx.login failed', 'unavailable', 0)) }
      })
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
    return new Promise(function (resolve, reject) {
      wxo.requestSubscribeMessage({
        tmplIds: tmplIds,
        success: resolve,
        fail: function (e) {
          reject(WxnotifyError((e && e.errMsg) || 'requestSubscribeMessage failed', 'invalid', 0, e && String(e.errCode)))
        }
      })
    }).then(function (res) {
      var answers = {}
      Object.keys(res).forEach(function (k) {
        if (k === 'errMsg' || k === 'errCode') return
        answers[k] = res[k]
      })
      if (Object.keys(answers).length === 0) return res
      return call('POST', '/subscriptions', answers).then(function () { return res })
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

module.exports = { create: create, MOCK_FORM_ID: MOCK_FORM_ID }
