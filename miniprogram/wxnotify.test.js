// Run with: node --test miniprogram/  (or npm test in miniprogram/)
// A fake wx object stands in for the mini-program runtime and the server.
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const path = require('node:path')
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

test('a request that gets no answer is unavailable with status 0', async () => {
  const wx = fakeWx(() => [200, {}])
  wx.request = (o) => setImmediate(() => o.fail({ errMsg: 'request:fail url not in domain list' }))
  const c = wxnotify.create(opts(wx))
  await assert.rejects(c.login(), (e) => wxnotify.isWxnotifyError(e) && e.code === 'unavailable' && e.status === 0 &&
    /domain list/.test(e.message))
})

test('an answer that is not wxnotify JSON gets its code from the status', async () => {
  for (const [status, data, code] of [[502, '<html>bad gateway</html>', 'internal'], [503, 'upstream down', 'unavailable'],
    [429, '', 'rate_limited'], [400, '{"error":{"code":"invalid","message":"m","field":"code"}}', 'invalid']]) {
    const c = wxnotify.create(opts(fakeWx(() => [status, data])))
    await assert.rejects(c.login(), (e) => e.code === code && e.status === status, `status ${status}`)
  }
})

test('the session token is in no error', async () => {
  const valid = new Set()
  const wx = fakeWx((o) => {
    if (o.url.endsWith('/login')) return server(valid)(o)
    return [500, { error: { code: 'internal', message: 'Internal error.' } }]
  })
  const c = wxnotify.create(opts(wx))
  const s = await c.login()
  await assert.rejects(c.credits(), (e) => !JSON.stringify(e).includes(s.token) && !e.message.includes(s.token) && !String(e.stack).includes(s.token))
})

// Taro.request and the promisified uni APIs answer with a Promise; a function
// may also do both (Taro calls success and resolves): the helper settles once.
test('injected functions: callbacks, Promises, or both (uni-app, Taro)', async () => {
  const valid = new Set()
  const srv = server(valid)
  const storage = {}
  const calls = []
  let subscribes = 0
  const c = wxnotify.create({
    baseURL: 'https://n.example.com',
    appId: 'wx0123456789abcdef',
    debounceMs: 5,
    // Taro-style: success and a Promise, both
    request (o) {
      calls.push(o)
      const [statusCode, data] = srv(o)
      const res = { statusCode, data: JSON.stringify(data), header: {} } // some platforms leave the body a string
      setImmediate(() => o.success(res))
      return Promise.resolve(res)
    },
    // promisified uni.login: a Promise only
    login: () => Promise.resolve({ code: 'c1', errMsg: 'login:ok' }),
    requestSubscribeMessage: (o) => { subscribes++; return Promise.resolve({ errMsg: 'requestSubscribeMessage:ok', [o.tmplIds[0]]: 'accept' }) },
    storage: {
      getStorageSync: (k) => storage[k],
      setStorageSync: (k, v) => { storage[k] = v },
      removeStorageSync: (k) => { delete storage[k] }
    }
  })
  const r = await c.credits()
  assert.strictEqual(r.credits.length, 1)
  assert.strictEqual(storage.wxnotify_session.token, 'wxs_1')
  const res = await c.requestSubscribe(['T1'])
  assert.strictEqual(res.T1, 'accept')
  assert.strictEqual(subscribes, 1)
  assert.deepStrictEqual(calls.map((o) => o.method + ' ' + o.url.replace(/^.*wx0123456789abcdef/, '')),
    ['POST /login', 'GET /credits', 'POST /subscriptions'])
  assert.deepStrictEqual(calls[2].data, { T1: 'accept' })
})

test('wx: uni or Taro as the platform object', async () => {
  const uni = fakeWx(server(new Set())) // uni and Taro share wx's call shapes
  const c = wxnotify.create({ baseURL: 'https://n.example.com', appId: 'wx0123456789abcdef', wx: uni, debounceMs: 5 })
  assert.deepStrictEqual(await c.reportFormIds(['f1']), { added: 1 })
  assert.ok(uni.storage.wxnotify_session)
})

test('a failed or cancelled subscribe popup rejects with its errCode', async () => {
  const wx = fakeWx(server(new Set()))
  wx.requestSubscribeMessage = (o) => setImmediate(() => o.fail({ errMsg: 'requestSubscribeMessage:fail can only be invoked by user TAP gesture.', errCode: 20001 }))
  const c = wxnotify.create(opts(wx))
  await assert.rejects(c.requestSubscribe(['T1']), (e) => e.code === 'invalid' && e.field === '20001')
  assert.strictEqual(wx.calls.length, 0)
})

test('create needs baseURL, appId and a platform', () => {
  assert.throws(() => wxnotify.create({ appId: 'wx1' }), /baseURL and appId/)
  assert.throws(() => wxnotify.create({ baseURL: 'https://n', appId: 'wx1' }), /no request/) // no global wx in node
  assert.throws(() => wxnotify.create({ baseURL: 'https://n', appId: 'wx1', request () {}, login () {} }), /no storage/)
})

// The package: what package.json names exists, and wxnotify.d.ts declares
// exactly what the helper exports and what a client has.
test('package.json, index.js and wxnotify.d.ts match the helper', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, 'package.json'), 'utf8'))
  for (const f of [pkg.main, pkg.types, path.join(pkg.miniprogram, 'index.js')]) {
    assert.ok(fs.existsSync(path.join(__dirname, f)), f + ' missing')
  }
  for (const f of [pkg.main, pkg.types, 'index.js']) assert.ok(pkg.files.includes(f), f + ' not in files')
  assert.strictEqual(require('./index.js'), wxnotify)
  assert.strictEqual(wxnotify.default, wxnotify)

  const dts = fs.readFileSync(path.join(__dirname, 'wxnotify.d.ts'), 'utf8')
  const declared = [...dts.matchAll(/^export (?:declare )?(?:function|const) (\w+)/gm)].map((m) => m[1]).sort()
  assert.deepStrictEqual(declared, Object.keys(wxnotify).filter((k) => k !== 'default').sort())
  const iface = dts.match(/^export interface Client \{([\s\S]*?)^\}/m)[1]
  const methods = [...iface.matchAll(/^ {2}(\w+)\(/gm)].map((m) => m[1]).sort()
  const c = wxnotify.create(opts(fakeWx(() => [200, {}])))
  assert.deepStrictEqual(methods, Object.keys(c).sort())
  const opt = dts.match(/^export interface CreateOptions \{([\s\S]*?)^\}/m)[1]
  const declaredOptions = [...opt.matchAll(/^ {2}(\w+)\??[(:]/gm)].map((m) => m[1]).sort()
  const documented = [...fs.readFileSync(path.join(__dirname, 'wxnotify.js'), 'utf8').matchAll(/^ \* options\.(\w+)/gm)].map((m) => m[1]).sort()
  assert.deepStrictEqual(declaredOptions, documented)
})
