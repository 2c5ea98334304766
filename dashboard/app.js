// wxnotify operator dashboard: vanilla JS, no build step, no CDN.
// Every value from the server goes into the page through textContent or
// attributes, never innerHTML.
'use strict';

(function () {
  const POLL_MS = 5000;
  const MESSAGES_POLL_MS = 2000;
  const PAGE_SIZE = 50;
  const PALETTE = ['#07a35a', '#3d7ee8', '#d98e04', '#d64545', '#8e5bd6', '#12a4b5', '#c2569b', '#6b7785', '#9bb51a', '#e0672b'];
  const TERMINAL_BAD = ['failed', 'no_credit', 'expired', 'ambiguous'];

  const $ = (sel) => document.querySelector(sel);
  const state = {
    tab: 'overview',
    samples: [],
    interval: 5,
    apps: [],
    selected: 0,
    filters: { appid: '', state: '', openid: '' },
    before: 0, // messages page: ids below this; 0 is the newest page
    timers: [],
  };

  // h builds an element: h('td', {class: 'num'}, 'text', child, …).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  const SVG = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }

  // ---- API ----

  class Unauthorized extends Error {}

  async function api(path) {
    const res = await fetch('/dashboard/api/' + path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (res.status === 401) throw new Unauthorized();
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((body.error && body.error.message) || res.statusText);
    return body;
  }

  async function post(path, body) {
    return fetch('/dashboard/' + path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-Wxnotify-Dashboard': '1' },
      body: JSON.stringify(body || {}),
    });
  }

  // ---- formatting ----

  const nf = new Intl.NumberFormat();
  const fmtNum = (n) => nf.format(n || 0);
  function fmtTime(iso) {
    if (!iso) return '–';
    const d = new Date(iso);
    const today = new Date();
    const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
    if (d.toDateString() === today.toDateString()) return time;
    return d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' + time;
  }
  function fmtDur(ms) {
    const neg = ms < 0;
    let sec = Math.round(Math.abs(ms) / 1000);
    const d = Math.floor(sec / 86400); sec -= d * 86400;
    const hh = Math.floor(sec / 3600); sec -= hh * 3600;
    const m = Math.floor(sec / 60); sec -= m * 60;
    const txt = d ? `${d}d ${hh}h` : hh ? `${hh}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
    return neg ? txt + ' ago' : 'in ' + txt;
  }
  const rel = (iso) => (iso ? fmtDur(new Date(iso) - Date.now()) : '–');
  const badge = (cls, text) => h('span', { class: cls }, text);

  function setBanner(msg) {
    const b = $('#banner');
    b.textContent = msg || '';
    b.hidden = !msg;
  }

  // ---- charts: hand-written SVG ----

  // lineChart draws series [{name, color, points: [[ms, value], …]}] into
  // el at its own width, so text keeps its size. opts: height, area, label,
  // empty (what to say without data).
  function lineChart(el, series, opts) {
    opts = opts || {};
    el.replaceChildren();
    const pts = series.flatMap((x) => x.points);
    if (pts.length < 2) {
      el.append(h('div', { class: 'chart-empty' }, opts.empty || 'Collecting data — a point every 5 seconds'));
      return;
    }
    const W = Math.max(320, Math.floor(el.clientWidth || 640)), H = opts.height || 220, L = 44, R = 14, T = 10, B = 24;
    let x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(...pts.map((p) => p[0]));
    if (x1 === x0) x1 = x0 + 1000;
    let ymax = Math.max(1, ...pts.map((p) => p[1]));
    const step = niceStep(ymax / 4);
    ymax = Math.ceil(ymax / step) * step;
    const X = (t) => L + ((t - x0) / (x1 - x0)) * (W - L - R);
    const Y = (v) => T + (1 - v / ymax) * (H - T - B);
    const svg = s('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': opts.label || 'chart' });
    for (let v = 0; v <= ymax + 1e-9; v += step) {
      svg.append(s('line', { class: v === 0 ? 'axis' : 'grid', x1: L, x2: W - R, y1: Y(v), y2: Y(v) }));
      svg.append(s('text', { x: L - 6, y: Y(v) + 4, 'text-anchor': 'end' }, fmtAxis(v)));
    }
    const ticks = Math.max(2, Math.min(6, Math.floor(W / 110)));
    const withSeconds = x1 - x0 < 10 * 60 * 1000;
    for (let i = 0; i <= ticks; i++) {
      const t = x0 + ((x1 - x0) * i) / ticks;
      const label = new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: withSeconds ? '2-digit' : undefined, hour12: false });
      svg.append(s('text', { x: X(t), y: H - 6, 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle' }, label));
    }
    for (const ser of series) {
      if (!ser.points.length) continue;
      const d = ser.points.map((p, i) => (i ? 'L' : 'M') + X(p[0]).toFixed(1) + ' ' + Y(p[1]).toFixed(1)).join(' ');
      if (opts.area) {
        const first = ser.points[0], last = ser.points[ser.points.length - 1];
        svg.append(s('path', { class: 'area', fill: ser.color,
          d: d + ` L${X(last[0]).toFixed(1)} ${Y(0)} L${X(first[0]).toFixed(1)} ${Y(0)} Z` }));
      }
      svg.append(s('path', { class: 'line', d, stroke: ser.color }, s('title', {}, ser.name)));
    }
    el.append(svg);
    el.append(h('div', { class: 'legend' }, series.map((ser) => {
      const last = ser.points.length ? ser.points[ser.points.length - 1][1] : 0;
      const dot = h('i');
      dot.style.background = ser.color;
      return h('span', { title: ser.name }, dot, shorten(ser.label || ser.name) + ' ', h('b', {}, fmtAxis(last)));
    })));
  }
  // shorten keeps long ids readable: "wx0123…/5IThpx…Q1Ew".
  function shorten(v) {
    return String(v).split('/').map((p) => (p.length > 18 ? p.slice(0, 8) + '…' + p.slice(-4) : p)).join(' / ');
  }
  function niceStep(raw) {
    if (raw <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  }
  function fmtAxis(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(v % 1e6 ? 1 : 0) + 'M';
    if (v >= 1e4) return (v / 1e3).toFixed(v % 1e3 ? 1 : 0) + 'k';
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
  }
  // seriesOf turns one map-valued field of the samples into chart series,
  // the `limit` largest keys (by their peak) first. scale turns a value into
  // what is drawn (e.g. a per-interval count into a per-minute rate).
  function seriesOf(field, keys, limit, scale) {
    scale = scale || ((v) => v);
    const samples = state.samples.filter((x) => x[field] != null);
    if (!keys) {
      const peak = {};
      for (const x of samples) for (const [k, v] of Object.entries(x[field])) peak[k] = Math.max(peak[k] || 0, v);
      keys = Object.keys(peak).sort((a, b) => peak[b] - peak[a]).slice(0, limit || 8);
    }
    return keys.map((k, i) => ({
      name: k,
      color: PALETTE[i % PALETTE.length],
      points: samples.map((x) => [Date.parse(x.at), scale((x[field][k] || 0))]),
    }));
  }

  // ---- views ----

  async function loadTimeSeries() {
    const last = state.samples.length ? state.samples[state.samples.length - 1].at : '';
    const ts = await api('timeseries' + (last ? '?since=' + encodeURIComponent(last) : ''));
    state.interval = ts.interval_seconds || 5;
    state.samples = state.samples.concat(ts.samples || []);
    const cutoff = Date.now() - 3600 * 1000;
    state.samples = state.samples.filter((x) => Date.parse(x.at) >= cutoff);
  }

  async function renderOverview() {
    const [queue, apps] = await Promise.all([api('queue').catch((e) => { if (e instanceof Unauthorized) throw e; return null; }), api('apps'), loadTimeSeries()]);
    if (queue) {
      for (const k of ['queued', 'waiting_credit', 'sending']) $('#stat-' + k).textContent = fmtNum(queue[k]);
      $('#stat-delivered').textContent = fmtNum(queue.counts.delivered);
      $('#stat-failed').textContent = fmtNum(TERMINAL_BAD.reduce((n, k) => n + (queue.counts[k] || 0), 0));
    }
    const perMin = (v) => (v * 60) / state.interval;
    const out = state.samples.filter((x) => x.outcomes != null);
    lineChart($('#chart-rate'), [
      { name: 'delivered', color: '#07a35a', points: out.map((x) => [Date.parse(x.at), perMin(x.outcomes.delivered || 0)]) },
      { name: 'not delivered', color: '#d64545', points: out.map((x) => [Date.parse(x.at), perMin(TERMINAL_BAD.reduce((n, k) => n + (x.outcomes[k] || 0), 0))]) },
    ], { label: 'delivery rate', empty: 'Collecting data — a point every 5 seconds' });
    lineChart($('#chart-queue'), seriesOf('queue', ['queued', 'waiting_credit', 'sending']).map((ser, i) => ({ ...ser, color: ['#3d7ee8', '#d98e04', '#07a35a'][i] })), { label: 'queue depth', area: true });
    const errs = seriesOf('wechat_errors', null, 8, perMin);
    if (errs.some((ser) => ser.points.some((p) => p[1] > 0))) lineChart($('#chart-errors'), errs, { label: 'WeChat error codes' });
    else lineChart($('#chart-errors'), [], { empty: 'No WeChat errors in the last hour' });
    renderTokenList($('#overview-tokens'), apps.apps || []);
    fillAppFilter(apps.apps || []);
  }

  function renderTokenList(el, apps) {
    el.replaceChildren();
    if (!apps.length) { el.append(h('p', { class: 'muted' }, 'No apps registered. Add one with: wxnotify app add APPID')); return; }
    el.append(h('div', { class: 'token-list' }, apps.map((a) => h('div', { class: 'token-row' },
      h('div', {}, h('code', {}, a.appid), ' ', h('span', { class: 'muted' }, a.name || '')),
      h('div', {}, a.token && a.token.has_token ? h('span', { class: 'muted small' }, 'expires ' + rel(a.token.expires_at) + '  ') : null,
        badge('badge health-' + a.health, a.health))))));
  }

  async function renderApps() {
    const { apps } = await api('apps');
    fillAppFilter(apps || []);
    const body = $('#apps-body');
    body.replaceChildren();
    if (!apps || !apps.length) {
      body.append(h('tr', {}, h('td', { colspan: 8, class: 'muted empty' }, 'No apps registered.')));
      return;
    }
    for (const a of apps) {
      const t = a.token || {};
      body.append(h('tr', { id: 'app-' + a.appid },
        h('td', {}, h('code', {}, a.appid)),
        h('td', {}, a.name || '–'),
        h('td', {}, a.token_mode || 'stable'),
        h('td', {}, badge('badge health-' + a.health, a.health)),
        h('td', {}, t.has_token ? rel(t.expires_at) : '–'),
        h('td', {}, t.refresh_at ? rel(t.refresh_at) : '–'),
        h('td', { class: 'num' }, fmtNum(t.fetches)),
        h('td', { class: 'clip', title: t.last_error || '' }, t.last_error ? t.last_error + ' (' + rel(t.last_error_at) + ')' : '–')));
    }
  }

  async function renderCredits() {
    const [{ stocks }] = await Promise.all([api('credits'), loadTimeSeries()]);
    const credits = seriesOf('credits', null, 10);
    lineChart($('#chart-credits'), credits, { height: 280, label: 'credit stock', area: credits.length <= 3, empty: 'Collecting data — a point every 5 seconds' });
    const body = $('#credits-body');
    body.replaceChildren();
    if (!stocks || !stocks.length) {
      body.append(h('tr', {}, h('td', { colspan: 6, class: 'muted empty' }, 'No usable credits. Users grant them from the mini program.')));
      return;
    }
    for (const c of stocks) {
      body.append(h('tr', {},
        h('td', {}, h('code', {}, c.appid)), h('td', {}, c.kind), h('td', {}, c.template_id ? h('code', {}, c.template_id) : '–'),
        h('td', { class: 'num' }, fmtNum(c.credits)), h('td', { class: 'num' }, fmtNum(c.uses)), h('td', { class: 'num' }, fmtNum(c.rejections))));
    }
  }

  function fillAppFilter(apps) {
    const sel = $('#filter-app');
    const ids = apps.map((a) => a.appid).join(',');
    if (sel.dataset.ids === ids) return;
    sel.dataset.ids = ids;
    const cur = sel.value;
    sel.replaceChildren(h('option', { value: '' }, 'all apps'), ...apps.map((a) => h('option', { value: a.appid }, a.appid + (a.name ? ' · ' + a.name : ''))));
    sel.value = cur;
  }

  async function renderMessages() {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(state.filters)) if (v) q.set(k, v);
    q.set('limit', String(PAGE_SIZE));
    if (state.before) q.set('before', String(state.before));
    const { messages } = await api('messages?' + q);
    const list = messages || [];
    $('#page-newest').disabled = !state.before;
    $('#page-older').disabled = list.length < PAGE_SIZE;
    $('#page-older').dataset.before = list.length ? list[list.length - 1].id : '';
    $('#page-info').textContent = list.length ? `#${list[0].id} – #${list[list.length - 1].id}` : '';
    const body = $('#messages-body');
    body.replaceChildren(...(messages || []).map((m) => h('tr', {
      id: 'msg-' + m.id, 'data-id': m.id, class: m.id === state.selected ? 'selected' : null,
      on: { click: () => selectMessage(m.id) },
    },
      h('td', { class: 'num' }, m.id),
      h('td', {}, h('code', {}, m.appid)),
      h('td', { class: 'clip' }, h('code', {}, m.openid)),
      h('td', { class: 'clip' }, h('code', {}, m.template_id)),
      h('td', {}, badge('state state-' + m.state, m.state)),
      h('td', { class: 'num' }, m.attempts),
      h('td', { title: m.updated_at }, fmtTime(m.updated_at)))));
    $('#messages-empty').hidden = (messages || []).length > 0;
    if (state.selected) await renderMessageDetail();
  }

  function selectMessage(id) {
    state.selected = id;
    for (const tr of document.querySelectorAll('#messages-body tr')) tr.classList.toggle('selected', Number(tr.dataset.id) === id);
    renderMessageDetail().catch(onError);
  }

  async function renderMessageDetail() {
    const el = $('#message-detail');
    const { message: m, attempts } = await api('messages/' + state.selected);
    const close = h('button', { class: 'ghost', type: 'button', on: { click: () => { state.selected = 0; el.hidden = true; el.parentElement.classList.remove('open'); } } }, 'Close');
    const rows = [
      ['State', badge('state state-' + m.state, m.state)],
      ['App', h('code', {}, m.appid)],
      ['OpenID', h('code', {}, m.openid)],
      ['Kind', m.kind],
      ['Template', h('code', {}, m.template_id)],
      ['WeChat msgid', m.msgid || '–'],
      ['Last error', m.last_error || '–'],
      ['Created', fmtTime(m.created_at)],
      ['Updated', fmtTime(m.updated_at)],
      ['Expires', fmtTime(m.expires_at)],
    ];
    if (m.broadcast_id) rows.push(['Broadcast', '#' + m.broadcast_id]);
    const data = Object.entries(m.data || {});
    el.replaceChildren(
      h('div', { class: 'detail-head' }, h('h2', {}, 'Message #' + m.id), close),
      h('dl', {}, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
      data.length ? h('h3', {}, 'Data') : null,
      data.length ? h('dl', {}, data.flatMap(([k, v]) => [h('dt', {}, h('code', {}, k)), h('dd', {}, v)])) : null,
      h('h3', {}, 'Attempts'),
      attempts.length ? h('table', { class: 'table', id: 'attempts' },
        h('thead', {}, h('tr', {}, ['#', 'At', 'errcode', 'Class', 'Latency', 'errmsg'].map((t) => h('th', {}, t)))),
        h('tbody', {}, attempts.map((a) => h('tr', {},
          h('td', {}, a.n), h('td', {}, fmtTime(a.at)),
          h('td', {}, badge(a.errcode === 0 ? 'state state-delivered' : 'state state-failed', a.errcode)),
          h('td', {}, a.class || '–'), h('td', { class: 'num' }, a.latency_ms.toFixed(1) + ' ms'),
          h('td', { class: 'clip', title: a.errmsg || '' }, a.errmsg || '–'))))) : h('p', { class: 'muted' }, 'Not sent yet.'));
    el.hidden = false;
    el.parentElement.classList.add('open');
  }

  async function renderBroadcasts() {
    const ids = $('#broadcast-ids').value.replace(/\s+/g, '');
    const { broadcasts } = await api('broadcasts' + (ids ? '?id=' + encodeURIComponent(ids) : ''));
    const el = $('#broadcasts');
    el.replaceChildren();
    if (!broadcasts || !broadcasts.length) {
      el.append(h('div', { class: 'card muted empty' }, ids ? 'No broadcast with these ids.' : 'No recent broadcasts.'));
      return;
    }
    for (const b of broadcasts) {
      const c = b.counts || {};
      const total = Math.max(b.total || 0, 1);
      const bad = TERMINAL_BAD.reduce((n, k) => n + (c[k] || 0), 0);
      const segs = [['delivered', c.delivered || 0], ['failed', bad], ['pending', b.pending || 0],
        ['other', Math.max(0, (b.total || 0) - (c.delivered || 0) - bad - (b.pending || 0))]];
      const bar = h('div', { class: 'progress', role: 'progressbar', 'aria-valuenow': c.delivered || 0, 'aria-valuemax': b.total || 0 });
      for (const [name, n] of segs) {
        if (!n) continue;
        const seg = h('span', { class: 'seg-' + name, title: name + ': ' + n });
        seg.style.width = ((n / total) * 100).toFixed(2) + '%';
        bar.append(seg);
      }
      const pct = (((c.delivered || 0) / total) * 100).toFixed(1);
      el.append(h('div', { class: 'card', id: 'broadcast-' + b.id },
        h('div', { class: 'bc-head' }, h('h2', {}, 'Broadcast #' + b.id + ' ', badge('badge', b.state)), h('b', {}, pct + '% delivered')),
        h('div', { class: 'bc-meta' }, h('code', {}, b.appid), ' · template ', h('code', {}, b.template_id), ' · ', fmtNum(b.accepted), ' recipients · created ', fmtTime(b.created_at),
          b.error ? ' · error: ' + b.error : ''),
        bar,
        h('div', { class: 'legend' }, segs.filter(([name, n]) => name !== 'other' || n > 0).map(([name, n]) => { const i = h('i', { class: 'seg-' + name }); return h('span', {}, i, name + ' ', h('b', {}, fmtNum(n))); }))));
    }
  }

  const views = { overview: renderOverview, apps: renderApps, credits: renderCredits, messages: renderMessages, broadcasts: renderBroadcasts };

  // ---- shell ----

  function onError(err) {
    if (err instanceof Unauthorized) { showLogin(); return; }
    setBanner('Could not load: ' + err.message);
  }

  async function refresh() {
    try {
      await views[state.tab]();
      setBanner('');
      $('#updated').textContent = 'updated ' + new Date().toLocaleTimeString([], { hour12: false });
    } catch (err) { onError(err); }
  }

  function schedule() {
    for (const t of state.timers) clearInterval(t);
    state.timers = [setInterval(refresh, state.tab === 'messages' ? MESSAGES_POLL_MS : POLL_MS)];
  }

  function showTab(tab) {
    if (!views[tab]) tab = 'overview';
    state.tab = tab;
    for (const b of document.querySelectorAll('#nav button')) b.setAttribute('aria-selected', String(b.dataset.tab === tab));
    for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== 'view-' + tab;
    if (location.hash !== '#' + tab) history.replaceState(null, '', '#' + tab);
    schedule();
    refresh();
  }

  function showLogin() {
    for (const t of state.timers) clearInterval(t);
    state.timers = [];
    $('#app').hidden = true;
    $('#login-view').hidden = false;
    $('#password').focus();
  }

  function showApp() {
    $('#login-view').hidden = true;
    $('#app').hidden = false;
    showTab(location.hash.slice(1) || 'overview');
  }

  $('#login').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const err = $('#login-error');
    err.textContent = '';
    const res = await post('login', { password: $('#password').value }).catch(() => null);
    if (res && res.ok) { $('#password').value = ''; showApp(); return; }
    const body = res ? await res.json().catch(() => ({})) : {};
    err.textContent = (body.error && body.error.message) || 'Could not reach wxnotify';
    $('#password').value = '';
    $('#password').focus();
  });
  $('#logout').addEventListener('click', async () => { await post('logout').catch(() => null); showLogin(); });
  for (const b of document.querySelectorAll('#nav button')) b.addEventListener('click', () => showTab(b.dataset.tab));
  $('#message-filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.filters = { appid: $('#filter-app').value, state: $('#filter-state').value, openid: $('#filter-openid').value.trim() };
    state.before = 0;
    refresh();
  });
  $('#message-filters').addEventListener('reset', () => { state.filters = { appid: '', state: '', openid: '' }; state.before = 0; setTimeout(refresh); });
  $('#page-older').addEventListener('click', () => { state.before = Number($('#page-older').dataset.before) || 0; refresh(); });
  $('#page-newest').addEventListener('click', () => { state.before = 0; refresh(); });
  $('#broadcast-lookup').addEventListener('submit', (ev) => { ev.preventDefault(); refresh(); });
  document.addEventListener('visibilitychange', () => { if (!document.hidden && !$('#app').hidden) refresh(); });

  api('session').then(showApp, (err) => {
    showLogin();
    if (!(err instanceof Unauthorized)) $('#login-error').textContent = 'Could not load: ' + err.message;
  });
})();
