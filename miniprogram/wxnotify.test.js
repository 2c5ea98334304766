// Run with: node --test miniprogram/
// A fake wx object stands in for the mini-program runtime and the server.
const test = require('node:test')
const assert = require('node:assert')
const wxnotify = require('./wxnotify.js')

function fakeWx(server) {
  const storage = {}
  let codes = 0
  return {
    calls: [],
    storage,
    getStorageSync: (k) => storage[k],
    setStorageSync: (k, v) => { storage[k] = v },
    removeStorageSync: (k) => { delete storage[k] },
    login: (o) => setImmediate(() => o.success({ code: 'code' + (++codes) })),
    requestSubscribeMessage: (o) => setImmediate(() => {
      const res = { errMsg: 'requestSubscribeMessage:ok' }
      o.tmplIds.forEach((t, i) => { res[t] = i === 0 ? 'accept' : 'reject' })
      o.success(res)
    }),
    request(o) {
      this.calls.push({ method: o.method, url: o.url, data: o.data, auth: o.header.Authorization })
      setImmediate(() => {
        const [statusCode, data] = server(o)
        o.success({ statusCode, data })
      })
    }
  }
}

function server(valid) {
  let n = 0
  return (o) => {
    const path = o.url.replace(/^.*\/mp\/v1\/apps\/wx0123456789abcdef/, '')
    if (path === '/login') {
      const tok = 'wxs_' + (++n)
      valid.add(tok)
      return [200, { session_token: tok, expires_at: new Date(Date.now() + 3600e3).toISOString() }]
    }
    const tok = (o.header.Authorization || '').replace('Bearer ', '')
    if (!valid.has(tok)) return [401, { error: { code: 'unauthorized', message: 'session invalid' } }]
    if (path === '/form_ids') return [200, { added: o.data.form_ids.length }]
    if (path === '/subscriptions') return [200, { recorded: Object.keys(o.data).length }]
    if (path === '/credits') return [200, { credits: [{ kind: 'form_id', credits: 1, uses: 1 }] }]
    return [404, { error: { code: 'not_found', message: 'no route' } }]
  }
}

const opts = (wx) => ({ baseURL: 'https://n.example.com/', appId: 'wx0123456789abcdef', wx, debounceMs: 5 })

test('login once, cached, shared by concurrent calls', async () => {
  const valid = new Set()
  const wx = fakeWx(server(valid))
  const c = wxnotify.create(opts(wx))
  await Promise.all([c.credits(), c.credits(), c.login()])
  assert.strictEqual(wx.calls.filter((x) => x.url.endsWith('/login')).length, 1)
  assert.strictEqual(wx.storage.wxnotify_session.token, 'wxs_1')
})

test('re-login on 401', async () => {
  const valid = new Set()
  const wx = fakeWx(server(valid))
  const c = wxnotify.create(opts(wx))
  await c.login()
  valid.clear() // the server forgot the session
  const r = await c.credits()
  assert.strictEqual(r.credits.length, 1)
  assert.strictEqual(wx.storage.wxnotify_session.token, 'wxs_2')
})

test('form_ids are batched, deduplicated, mock dropped', async () => {
  const wx = fakeWx(server(new Set()))
  const c = wxnotify.create(opts(wx))
  const rs = await Promise.all([c.reportFormIds('f1'), c.reportFormIds(['f2', 'f1', wxnotify.MOCK_FORM_ID, ''])])
  const posts = wx.calls.filter((x) => x.url.endsWith('/form_ids'))
  assert.strictEqual(posts.length, 1)
  assert.deepStrictEqual(posts[0].data, { form_ids: ['f1', 'f2'] })
  assert.deepStrictEqual(rs, [{ added: 2 }, { added: 2 }])
  for (const call of wx.calls) assert.ok(!('openid' in (call.data || {})))
})

test('requestSubscribe reports the answers without errMsg', async () => {
  const wx = fakeWx(server(new Set()))
  const c = wxnotify.create(opts(wx))
  const res = await c.requestSubscribe(['T1', 'T2'])
  assert.strictEqual(res.T1, 'accept')
  const post = wx.calls.find((x) => x.url.endsWith('/subscriptions'))
  assert.deepStrictEqual(post.data, { T1: 'accept', T2: 'reject' })
})

test('errors carry code, status and field', async () => {
  const wx = fakeWx(() => [400, { error: { code: 'invalid', message: 'bad', field: 'code' } }])
  const c = wxnotify.create(opts(wx))
  await assert.rejects(c.login(), (e) => e.code === 'invalid' && e.status === 400 && e.field === 'code')
})
