// wxnotify operator dashboard: vanilla JS, no build step, no CDN.
// Every value from the server goes into the page through textContent or
// attributes, never innerHTML. Every string the page shows comes from the
// I18N dictionary below (Chinese and English).
'use strict';

(function () {
  const POLL_MS = 5000;
  const FAST_POLL_MS = 2000; // messages, and broadcasts while one is in progress
  const PAGE_SIZE = 50;
  const TEMPLATES_TTL_MS = 60000;
  const PALETTE = ['#07a35a', '#3d7ee8', '#d98e04', '#d64545', '#8e5bd6', '#12a4b5', '#c2569b', '#6b7785', '#9bb51a', '#e0672b'];
  const TERMINAL_BAD = ['failed', 'no_credit', 'expired', 'ambiguous'];
  const CANCELLABLE = ['queued', 'waiting_credit'];
  const RETRYABLE = ['failed', 'no_credit', 'expired'];
  const RANGES = ['1h', '24h', '30d'];
  const RANGE_KEY = 'wxnotify.dashboard.range';

  const $ = (sel) => document.querySelector(sel);

  // ---- words: every string the page shows, in each language ----

  // I18N holds every visible string; index.html names its static ones with
  // data-i18n (text), data-i18n-placeholder, data-i18n-title and
  // data-i18n-aria-label. "{0}" and "{1}" are filled in by t().
  const I18N = {
    en: {
      'title': 'wxnotify · dashboard',
      'lang.label': 'Language',
      'login.subtitle': 'Operator dashboard',
      'login.password': 'Password',
      'login.submit': 'Log in',
      'login.unreachable': 'Could not reach wxnotify',
      'nav.label': 'Views',
      'nav.overview': 'Overview',
      'nav.apps': 'Apps & tokens',
      'nav.credits': 'Credits',
      'nav.messages': 'Messages',
      'nav.broadcasts': 'Broadcasts',
      'nav.schedules': 'Schedules',
      'nav.jobs': 'Jobs',
      'nav.audit': 'Audit log',
      'logout': 'Log out',
      'updated': 'updated {0}',
      'load.error': 'Could not load: {0}',
      'stat.queued': 'Queued',
      'stat.waiting_credit': 'Waiting for credit',
      'stat.sending': 'Sending',
      'stat.delivered': 'Delivered',
      'stat.failed': 'Failed / no credit / expired',
      'range.label': 'History range',
      'range.1h': '1 h',
      'range.24h': '24 h',
      'range.30d': '30 days',
      'chart.rate': 'Delivery rate',
      'chart.queue': 'Queue depth',
      'chart.errors': 'WeChat error codes',
      'chart.tokens': 'Token health',
      'unit.per_minute': 'messages per minute',
      'unit.per_hour': 'messages per hour',
      'unit.errors_per_minute': 'errors per minute',
      'unit.errors_per_hour': 'errors per hour',
      'unit.sampled_minute': 'highest each minute',
      'unit.sampled_hour': 'highest each hour',
      'chart.empty_minute': 'No data yet — one point per minute',
      'chart.empty_hour': 'No data yet — one point per hour',
      'chart.no_errors': 'No WeChat errors in this range',
      'series.delivered': 'delivered',
      'series.not_delivered': 'not delivered',
      'history.totals': 'In this range: {0} delivered, {1} not delivered',
      'apps.title': 'Apps and access_tokens',
      'apps.none': 'No apps registered.',
      'apps.none_hint': 'No apps registered. Add one with: wxnotify app add APPID',
      'apps.expires': 'expires {0}',
      'col.app': 'App', 'col.name': 'Name', 'col.mode': 'Mode', 'col.token': 'Token', 'col.expires': 'Expires',
      'col.next_refresh': 'Next refresh', 'col.fetches': 'Fetches', 'col.last_error': 'Last error', 'col.actions': 'Actions',
      'col.kind': 'Kind', 'col.template': 'Template', 'col.credits': 'Credits', 'col.uses': 'Uses', 'col.rejections': 'Rejections',
      'col.id': 'ID', 'col.openid': 'OpenID', 'col.state': 'State', 'col.attempts': 'Attempts', 'col.updated': 'Updated',
      'col.alias': 'Alias', 'col.title': 'Title', 'col.template_id': 'Template ID',
      'col.cron': 'When', 'col.recipients': 'Recipients', 'col.next_run': 'Next run', 'col.last_run': 'Last run',
      'col.job': 'Job', 'col.interval': 'Every', 'col.duration': 'Took', 'col.runs': 'Runs', 'col.errors': 'Errors',
      'col.at': 'When', 'col.actor': 'Who', 'col.action': 'Action', 'col.target': 'What', 'col.detail': 'Change',
      'templates.title': 'Templates',
      'templates.none': 'No templates yet: sync them from WeChat.',
      'templates.deleted': 'deleted',
      'action.token_refresh': 'Refresh access_token',
      'action.templates_sync': 'Sync templates',
      'action.cancel': 'Cancel',
      'action.retry': 'Retry',
      'action.pause': 'Pause',
      'action.resume': 'Resume',
      'action.delete': 'Delete',
      'confirm.title': 'Please confirm',
      'confirm.ok': 'Confirm',
      'confirm.back': 'Back',
      'confirm.message.cancel': 'Cancel message #{0}? It will not be sent.',
      'confirm.message.retry': 'Retry message #{0}? It is sent again with a fresh credit.',
      'confirm.schedule.pause': 'Pause schedule “{0}”?',
      'confirm.schedule.resume': 'Resume schedule “{0}”?',
      'confirm.schedule.delete': 'Delete schedule “{0}”? This cannot be undone.',
      'confirm.token.refresh': 'Fetch a new access_token for {0} now?',
      'confirm.templates.sync': 'Re-sync the templates of {0} from WeChat?',
      'done.message.cancel': 'Message #{0} cancelled.',
      'done.message.retry': 'Message #{0} queued again.',
      'done.schedule.pause': 'Schedule #{0} paused.',
      'done.schedule.resume': 'Schedule #{0} resumed.',
      'done.schedule.delete': 'Schedule #{0} deleted.',
      'done.token.refresh': 'New access_token for {0}: fetch {1}.',
      'done.templates.sync': 'Templates of {0} synced: {1} added, {2} removed.',
      'action.failed': 'Action failed: {0}',
      'credits.chart': 'Credit stock over time',
      'credits.chart_unit': 'usable uses per template',
      'credits.now': 'Credit stock now',
      'credits.none': 'No usable credits. Users grant them from the mini program.',
      'filter.app': 'App', 'filter.all_apps': 'all apps', 'filter.state': 'State', 'filter.any_state': 'any state',
      'filter.openid': 'OpenID', 'filter.submit': 'Filter', 'filter.clear': 'Clear', 'filter.action': 'Action',
      'filter.any_action': 'any action',
      'messages.none': 'No messages match.',
      'page.newest': 'Newest', 'page.older': 'Older',
      'detail.title': 'Message #{0}',
      'detail.close': 'Close',
      'detail.state': 'State', 'detail.app': 'App', 'detail.openid': 'OpenID', 'detail.kind': 'Kind', 'detail.template': 'Template',
      'detail.msgid': 'WeChat msgid', 'detail.last_error': 'Last error', 'detail.created': 'Created', 'detail.updated': 'Updated',
      'detail.expires': 'Expires', 'detail.broadcast': 'Broadcast', 'detail.data': 'Data', 'detail.attempts': 'Attempts',
      'detail.not_sent': 'Not sent yet.',
      'attempt.n': '#', 'attempt.at': 'At', 'attempt.errcode': 'errcode', 'attempt.class': 'Class', 'attempt.latency': 'Latency', 'attempt.errmsg': 'errmsg',
      'bc.ids': 'Broadcast IDs',
      'bc.ids_placeholder': 'e.g. 12, 15 — empty: the recent ones',
      'bc.show': 'Show',
      'bc.none': 'No recent broadcasts.',
      'bc.none_ids': 'No broadcast with these ids.',
      'bc.title': 'Broadcast #{0}',
      'bc.delivered_pct': '{0}% delivered',
      'bc.meta': '{0} recipients · created {1}',
      'bc.finished_at': 'finished {0}',
      'bc.error': 'error: {0}',
      'bc.pending': 'pending',
      'bc.other': 'other',
      'schedules.title': 'Schedules',
      'schedules.none': 'No schedules.',
      'jobs.title': 'Scheduled jobs',
      'jobs.note': 'of the instance that answers',
      'jobs.none': 'No scheduled jobs run on this instance.',
      'jobs.running': 'running',
      'jobs.ok': 'ok',
      'audit.title': 'Audit log',
      'audit.none': 'No actions recorded yet.',
      'never': 'never',
      'dur.in': 'in {0}', 'dur.ago': '{0} ago',
      'dur.d': '{0}d', 'dur.h': '{0}h', 'dur.m': '{0}m', 'dur.s': '{0}s',
      'state.queued': 'queued', 'state.waiting_credit': 'waiting for credit', 'state.sending': 'sending',
      'state.delivered': 'delivered', 'state.failed': 'failed', 'state.no_credit': 'no credit', 'state.expired': 'expired',
      'state.cancelled': 'cancelled', 'state.ambiguous': 'ambiguous',
      'health.valid': 'valid', 'health.expiring': 'expiring', 'health.error': 'error', 'health.expired': 'expired',
      'health.none': 'not fetched yet', 'health.unknown': 'unknown',
      'bcstate.accepting': 'accepting', 'bcstate.accepted': 'accepted', 'bcstate.aborted': 'aborted', 'bcstate.finished': 'finished',
      'schedstate.active': 'active', 'schedstate.paused': 'paused',
      'audit.message.cancel': 'cancel message', 'audit.message.retry': 'retry message',
      'audit.schedule.pause': 'pause schedule', 'audit.schedule.resume': 'resume schedule', 'audit.schedule.delete': 'delete schedule',
      'audit.token.refresh': 'refresh access_token', 'audit.templates.sync': 'sync templates',
      'kind.subscribe': 'subscribe', 'kind.template': 'template (form_id)', 'kind.uniform': 'uniform',
    },
    'zh-CN': {
      'title': 'wxnotify · 控制台',
      'lang.label': '语言',
      'login.subtitle': '运维控制台',
      'login.password': '密码',
      'login.submit': '登录',
      'login.unreachable': '无法连接 wxnotify',
      'nav.label': '视图',
      'nav.overview': '概览',
      'nav.apps': '小程序与令牌',
      'nav.credits': '发送额度',
      'nav.messages': '消息',
      'nav.broadcasts': '广播',
      'nav.schedules': '定时发送',
      'nav.jobs': '定时任务',
      'nav.audit': '审计日志',
      'logout': '退出登录',
      'updated': '更新于 {0}',
      'load.error': '加载失败：{0}',
      'stat.queued': '排队中',
      'stat.waiting_credit': '等待额度',
      'stat.sending': '发送中',
      'stat.delivered': '已送达',
      'stat.failed': '失败 / 无可用额度 / 已过期',
      'range.label': '历史范围',
      'range.1h': '1 小时',
      'range.24h': '24 小时',
      'range.30d': '30 天',
      'chart.rate': '送达速率',
      'chart.queue': '队列深度',
      'chart.errors': '微信错误码',
      'chart.tokens': '令牌状态',
      'unit.per_minute': '条/分钟',
      'unit.per_hour': '条/小时',
      'unit.errors_per_minute': '次/分钟',
      'unit.errors_per_hour': '次/小时',
      'unit.sampled_minute': '每分钟最高值',
      'unit.sampled_hour': '每小时最高值',
      'chart.empty_minute': '暂无数据（每分钟一个点）',
      'chart.empty_hour': '暂无数据（每小时一个点）',
      'chart.no_errors': '此时间范围内没有微信错误',
      'series.delivered': '已送达',
      'series.not_delivered': '未送达',
      'history.totals': '此时间范围内：已送达 {0} 条，未送达 {1} 条',
      'apps.title': '小程序与 access_token',
      'apps.none': '尚未添加小程序。',
      'apps.none_hint': '尚未添加小程序。添加：wxnotify app add APPID',
      'apps.expires': '{0}过期',
      'col.app': '小程序', 'col.name': '名称', 'col.mode': '模式', 'col.token': '令牌', 'col.expires': '过期',
      'col.next_refresh': '下次刷新', 'col.fetches': '获取次数', 'col.last_error': '最近错误', 'col.actions': '操作',
      'col.kind': '类型', 'col.template': '模板', 'col.credits': '额度', 'col.uses': '可用次数', 'col.rejections': '拒绝次数',
      'col.id': 'ID', 'col.openid': 'OpenID', 'col.state': '状态', 'col.attempts': '尝试次数', 'col.updated': '更新时间',
      'col.alias': '别名', 'col.title': '标题', 'col.template_id': '模板 ID',
      'col.cron': '时间规则', 'col.recipients': '接收人', 'col.next_run': '下次执行', 'col.last_run': '上次执行',
      'col.job': '任务', 'col.interval': '间隔', 'col.duration': '耗时', 'col.runs': '执行次数', 'col.errors': '错误次数',
      'col.at': '时间', 'col.actor': '操作人', 'col.action': '操作', 'col.target': '对象', 'col.detail': '变更',
      'templates.title': '模板',
      'templates.none': '暂无模板：请从微信同步模板。',
      'templates.deleted': '已删除',
      'action.token_refresh': '刷新 access_token',
      'action.templates_sync': '同步模板',
      'action.cancel': '取消',
      'action.retry': '重试',
      'action.pause': '暂停',
      'action.resume': '恢复',
      'action.delete': '删除',
      'confirm.title': '请确认',
      'confirm.ok': '确定',
      'confirm.back': '返回',
      'confirm.message.cancel': '确定要取消消息 #{0} 吗？取消后不会再发送。',
      'confirm.message.retry': '确定要重试消息 #{0} 吗？将使用新的额度重新发送。',
      'confirm.schedule.pause': '确定要暂停定时发送“{0}”吗？',
      'confirm.schedule.resume': '确定要恢复定时发送“{0}”吗？',
      'confirm.schedule.delete': '确定要删除定时发送“{0}”吗？删除后无法恢复。',
      'confirm.token.refresh': '确定要立即为 {0} 刷新 access_token 吗？',
      'confirm.templates.sync': '确定要从微信重新同步 {0} 的模板吗？',
      'done.message.cancel': '消息 #{0} 已取消。',
      'done.message.retry': '消息 #{0} 已重新排队。',
      'done.schedule.pause': '定时发送 #{0} 已暂停。',
      'done.schedule.resume': '定时发送 #{0} 已恢复。',
      'done.schedule.delete': '定时发送 #{0} 已删除。',
      'done.token.refresh': '已为 {0} 获取新的 access_token（第 {1} 次）。',
      'done.templates.sync': '{0} 的模板已同步：新增 {1} 个，移除 {2} 个。',
      'action.failed': '操作失败：{0}',
      'credits.chart': '额度存量变化',
      'credits.chart_unit': '每个模板的可用次数',
      'credits.now': '当前额度存量',
      'credits.none': '暂无可用额度。用户在小程序中授权后产生。',
      'filter.app': '小程序', 'filter.all_apps': '全部小程序', 'filter.state': '状态', 'filter.any_state': '全部状态',
      'filter.openid': 'OpenID', 'filter.submit': '筛选', 'filter.clear': '清除', 'filter.action': '操作',
      'filter.any_action': '全部操作',
      'messages.none': '没有符合条件的消息。',
      'page.newest': '最新', 'page.older': '更早',
      'detail.title': '消息 #{0}',
      'detail.close': '关闭',
      'detail.state': '状态', 'detail.app': '小程序', 'detail.openid': 'OpenID', 'detail.kind': '类型', 'detail.template': '模板',
      'detail.msgid': '微信 msgid', 'detail.last_error': '最近错误', 'detail.created': '创建时间', 'detail.updated': '更新时间',
      'detail.expires': '过期时间', 'detail.broadcast': '广播', 'detail.data': '数据', 'detail.attempts': '发送尝试',
      'detail.not_sent': '尚未发送。',
      'attempt.n': '#', 'attempt.at': '时间', 'attempt.errcode': 'errcode', 'attempt.class': '分类', 'attempt.latency': '耗时', 'attempt.errmsg': 'errmsg',
      'bc.ids': '广播 ID',
      'bc.ids_placeholder': '例如 12, 15（留空：最近的广播）',
      'bc.show': '查看',
      'bc.none': '最近没有广播。',
      'bc.none_ids': '没有这些 ID 的广播。',
      'bc.title': '广播 #{0}',
      'bc.delivered_pct': '已送达 {0}%',
      'bc.meta': '{0} 个接收人 · 创建于 {1}',
      'bc.finished_at': '完成于 {0}',
      'bc.error': '错误：{0}',
      'bc.pending': '待发送',
      'bc.other': '其他',
      'schedules.title': '定时发送',
      'schedules.none': '暂无定时发送。',
      'jobs.title': '定时任务',
      'jobs.note': '（当前响应的实例）',
      'jobs.none': '此实例不运行定时任务。',
      'jobs.running': '运行中',
      'jobs.ok': '正常',
      'audit.title': '审计日志',
      'audit.none': '暂无操作记录。',
      'never': '从未',
      'dur.in': '{0}后', 'dur.ago': '{0}前',
      'dur.d': '{0}天', 'dur.h': '{0}小时', 'dur.m': '{0}分', 'dur.s': '{0}秒',
      'state.queued': '排队中', 'state.waiting_credit': '等待额度', 'state.sending': '发送中',
      'state.delivered': '已送达', 'state.failed': '失败', 'state.no_credit': '无可用额度', 'state.expired': '已过期',
      'state.cancelled': '已取消', 'state.ambiguous': '结果不确定',
      'health.valid': '有效', 'health.expiring': '即将过期', 'health.error': '出错', 'health.expired': '已过期',
      'health.none': '尚未获取', 'health.unknown': '未知',
      'bcstate.accepting': '接收中', 'bcstate.accepted': '发送中', 'bcstate.aborted': '已中止', 'bcstate.finished': '已完成',
      'schedstate.active': '启用', 'schedstate.paused': '已暂停',
      'audit.message.cancel': '取消消息', 'audit.message.retry': '重试消息',
      'audit.schedule.pause': '暂停定时发送', 'audit.schedule.resume': '恢复定时发送', 'audit.schedule.delete': '删除定时发送',
      'audit.token.refresh': '刷新 access_token', 'audit.templates.sync': '同步模板',
      'kind.subscribe': '订阅消息', 'kind.template': '模板消息（form_id）', 'kind.uniform': '统一服务消息',
    },
  };
  const LANGS = ['zh-CN', 'en'];
  const LANG_KEY = 'wxnotify.dashboard.lang';

  // pickLang: the remembered choice, else the browser's language.
  function pickLang() {
    let saved = null;
    try { saved = localStorage.getItem(LANG_KEY); } catch (_) { /* storage off */ }
    if (LANGS.includes(saved)) return saved;
    return String(navigator.language || '').toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
  }
  let lang = pickLang();

  // t returns the string for key in the current language (English, then
  // the key itself, as fallbacks) with {0}, {1}, … filled in.
  function t(key, ...args) {
    const s = (I18N[lang] && I18N[lang][key]) ?? I18N.en[key] ?? key;
    return s.replace(/\{(\d+)\}/g, (_, i) => String(args[Number(i)] ?? ''));
  }
  // tv translates a server value under a prefix ("state.", "health."),
  // leaving a value the dictionary does not know as it is.
  const tv = (prefix, v) => (I18N.en[prefix + v] !== undefined ? t(prefix + v) : String(v ?? '–'));
  const locale = () => (lang === 'zh-CN' ? 'zh-CN' : 'en-GB');

  const state = {
    tab: 'overview',
    samples: [],
    interval: 60,
    range: (() => { try { const r = localStorage.getItem(RANGE_KEY); return RANGES.includes(r) ? r : '1h'; } catch (_) { return '1h'; } })(),
    selected: 0,
    filters: { appid: '', state: '', openid: '' },
    before: 0, // messages page: ids below this; 0 is the newest page
    timers: [],
    templates: new Map(), // "appid/template_id" → template
    templatesAt: 0,
    fast: false,
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

  // applyI18n puts the static strings of index.html into the current
  // language.
  function applyI18n() {
    document.documentElement.lang = lang;
    document.title = t('title');
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll('[data-i18n-placeholder]')) el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder));
    for (const el of document.querySelectorAll('[data-i18n-title]')) el.setAttribute('title', t(el.dataset.i18nTitle));
    for (const el of document.querySelectorAll('[data-i18n-aria-label]')) el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
    for (const sel of document.querySelectorAll('.lang-select')) sel.value = lang;
  }

  function setLang(l) {
    if (!LANGS.includes(l)) return;
    lang = l;
    try { localStorage.setItem(LANG_KEY, l); } catch (_) { /* storage off */ }
    nf = new Intl.NumberFormat(locale());
    applyI18n();
    const sel = $('#filter-app');
    if (sel) delete sel.dataset.ids; // rebuild "all apps" in the new language
    if (!$('#app').hidden) refresh();
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

  // post sends a CSRF-safe dashboard POST: the X-Wxnotify-Dashboard header
  // and a JSON body (http/dashboard.go dashboardPost).
  async function post(path, body) {
    return fetch('/dashboard/' + path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-Wxnotify-Dashboard': '1' },
      body: JSON.stringify(body || {}),
    });
  }

  // act runs a dashboard action and returns its answer; it throws with
  // the server's message.
  async function act(path) {
    const res = await post('api/' + path);
    if (res.status === 401) throw new Unauthorized();
    const body = res.status === 204 ? {} : await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((body.error && body.error.message) || res.statusText);
    return body;
  }

  // ---- formatting ----

  let nf = new Intl.NumberFormat(locale());
  const fmtNum = (n) => nf.format(n || 0);
  function fmtTime(iso) {
    if (!iso) return '–';
    const d = new Date(iso);
    const today = new Date();
    const time = d.toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
    if (d.toDateString() === today.toDateString()) return time;
    return d.toLocaleDateString(locale(), { month: 'short', day: 'numeric' }) + ' ' + time;
  }
  function fmtSpan(sec) {
    sec = Math.round(Math.abs(sec));
    const d = Math.floor(sec / 86400); sec -= d * 86400;
    const hh = Math.floor(sec / 3600); sec -= hh * 3600;
    const m = Math.floor(sec / 60); sec -= m * 60;
    const sep = lang === 'zh-CN' ? '' : ' ';
    const parts = d ? [t('dur.d', d), t('dur.h', hh)] : hh ? [t('dur.h', hh), t('dur.m', m)] : m ? [t('dur.m', m), t('dur.s', sec)] : [t('dur.s', sec)];
    return parts.join(sep);
  }
  function fmtDur(ms) {
    const txt = fmtSpan(ms / 1000);
    return ms < 0 ? t('dur.ago', txt) : t('dur.in', txt);
  }
  const rel = (iso) => (iso ? fmtDur(new Date(iso) - Date.now()) : '–');
  const badge = (cls, text) => h('span', { class: cls }, text);
  const stateBadge = (st) => badge('state state-' + st, tv('state.', st));

  function setBanner(msg) {
    const b = $('#banner');
    b.textContent = msg || '';
    b.hidden = !msg;
  }
  // notice shows what an action did (or why it failed) above the view.
  function notice(msg, bad) {
    const n = $('#notice');
    n.textContent = msg;
    n.classList.toggle('notice-bad', !!bad);
    n.hidden = !msg;
  }

  // ---- templates: shown by alias and title, never by raw id alone ----

  async function loadTemplates(force) {
    if (!force && Date.now() - state.templatesAt < TEMPLATES_TTL_MS) return;
    const { templates } = await api('templates');
    state.templates = new Map((templates || []).map((x) => [x.appid + '/' + x.template_id, x]));
    state.templatesAt = Date.now();
  }
  // tplLabel names a template: "alias · title", the title, or the id.
  function tplLabel(appid, id) {
    if (!id) return '–';
    const x = state.templates.get(appid + '/' + id);
    if (!x) return shorten(id);
    const alias = (x.aliases || [])[0];
    return alias && x.title ? alias + ' · ' + x.title : alias || x.title || shorten(id);
  }
  // tplCell is tplLabel with the id in a tooltip.
  const tplCell = (appid, id) => h('span', { class: 'tpl', title: id || '' }, tplLabel(appid, id));

  // ---- confirmation ----

  // confirmAction asks in the page (not window.confirm) and resolves true
  // on Confirm.
  function confirmAction(text) {
    return new Promise((resolve) => {
      const box = $('#confirm');
      $('#confirm-text').textContent = text;
      box.hidden = false;
      const done = (ok) => {
        box.hidden = true;
        $('#confirm-ok').onclick = $('#confirm-back').onclick = null;
        resolve(ok);
      };
      $('#confirm-ok').onclick = () => done(true);
      $('#confirm-back').onclick = () => done(false);
      $('#confirm-ok').focus();
    });
  }

  // runAction confirms, acts, says what it did and re-renders the view.
  async function runAction(question, path, doneText) {
    if (!(await confirmAction(question))) return null;
    try {
      const out = await act(path);
      notice(doneText(out), false);
      await refresh();
      return out;
    } catch (err) {
      if (err instanceof Unauthorized) { showLogin(); return null; }
      notice(t('action.failed', err.message), true);
      return null;
    }
  }

  // ---- charts: hand-written SVG ----

  // lineChart draws series [{name, color, points: [[ms, value], …]}] into
  // el at its own width, so text keeps its size. opts: height, area, label,
  // empty (what to say without data), days (date labels on the time axis).
  function lineChart(el, series, opts) {
    opts = opts || {};
    el.replaceChildren();
    const pts = series.flatMap((x) => x.points);
    if (pts.length < 2) {
      el.append(h('div', { class: 'chart-empty' }, opts.empty || emptyText()));
      return;
    }
    const W = Math.max(240, Math.floor(el.clientWidth || 640)), H = opts.height || 220, L = 44, R = 14, T = 10, B = 24;
    let x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(...pts.map((p) => p[0]));
    if (x1 === x0) x1 = x0 + 1000;
    let ymax = Math.max(1, ...pts.map((p) => p[1]));
    const step = niceStep(ymax / 4);
    ymax = Math.ceil(ymax / step) * step;
    const X = (v) => L + ((v - x0) / (x1 - x0)) * (W - L - R);
    const Y = (v) => T + (1 - v / ymax) * (H - T - B);
    const svg = s('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': opts.label || 'chart' });
    for (let v = 0; v <= ymax + 1e-9; v += step) {
      svg.append(s('line', { class: v === 0 ? 'axis' : 'grid', x1: L, x2: W - R, y1: Y(v), y2: Y(v) }));
      svg.append(s('text', { x: L - 6, y: Y(v) + 4, 'text-anchor': 'end' }, fmtAxis(v)));
    }
    const ticks = Math.max(2, Math.min(6, Math.floor(W / 110)));
    const days = x1 - x0 > 36 * 3600 * 1000;
    for (let i = 0; i <= ticks; i++) {
      const at = new Date(x0 + ((x1 - x0) * i) / ticks);
      const label = days ? at.toLocaleDateString(locale(), { month: 'numeric', day: 'numeric' })
        : at.toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit', hour12: false });
      svg.append(s('text', { x: X(at.getTime()), y: H - 6, 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle' }, label));
    }
    for (const ser of series) {
      if (!ser.points.length) continue;
      const d = ser.points.map((p, i) => (i ? 'L' : 'M') + X(p[0]).toFixed(1) + ' ' + Y(p[1]).toFixed(1)).join(' ');
      if (opts.area) {
        const first = ser.points[0], last = ser.points[ser.points.length - 1];
        svg.append(s('path', { class: 'area', fill: ser.color,
          d: d + ` L${X(last[0]).toFixed(1)} ${Y(0)} L${X(first[0]).toFixed(1)} ${Y(0)} Z` }));
      }
      svg.append(s('path', { class: 'line', d, stroke: ser.color }, s('title', {}, ser.label || ser.name)));
    }
    el.append(svg);
    el.append(h('div', { class: 'legend' }, series.map((ser) => {
      const last = ser.points.length ? ser.points[ser.points.length - 1][1] : 0;
      const dot = h('i');
      dot.style.background = ser.color;
      return h('span', { title: ser.name }, dot, (ser.label || shorten(ser.name)) + ' ', h('b', {}, fmtAxis(last)));
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
  const hourly = () => state.interval >= 3600;
  const emptyText = () => t(hourly() ? 'chart.empty_hour' : 'chart.empty_minute');
  // seriesOf turns one map-valued field of the samples into chart series,
  // the `limit` largest keys (by their peak) first; label names a key.
  function seriesOf(field, keys, limit, label) {
    const samples = state.samples.filter((x) => x[field] != null);
    if (!keys) {
      const peak = {};
      for (const x of samples) for (const [k, v] of Object.entries(x[field])) peak[k] = Math.max(peak[k] || 0, v);
      keys = Object.keys(peak).sort((a, b) => peak[b] - peak[a]).slice(0, limit || 8);
    }
    return keys.map((k, i) => ({
      name: k,
      label: label ? label(k) : undefined,
      color: PALETTE[i % PALETTE.length],
      points: samples.map((x) => [Date.parse(x.at), x[field][k] || 0]),
    }));
  }
  // creditLabel names a credit series "appid/template_id" by its template.
  function creditLabel(k) {
    const i = k.indexOf('/');
    if (i < 0) return k;
    const appid = k.slice(0, i), rest = k.slice(i + 1);
    return state.templates.has(appid + '/' + rest) ? tplLabel(appid, rest) : tv('kind.', rest);
  }

  // ---- views ----

  // loadTimeSeries reads the chosen range from the database's history (the
  // same on every instance): a bucket per minute (1 h, 24 h) or per hour
  // (30 days), each counting what happened in it.
  async function loadTimeSeries() {
    const hist = await api('history?range=' + encodeURIComponent(state.range));
    state.interval = hist.resolution_seconds || 60;
    state.samples = (hist.buckets || []).map((b) => ({
      at: b.at, outcomes: b.outcomes, wechat_errors: b.errcodes, queue: b.queue, credits: b.credits,
    }));
  }

  function renderUnits() {
    const hr = hourly();
    $('#unit-rate').textContent = t(hr ? 'unit.per_hour' : 'unit.per_minute');
    $('#unit-errors').textContent = t(hr ? 'unit.errors_per_hour' : 'unit.errors_per_minute');
    $('#unit-queue').textContent = t(hr ? 'unit.sampled_hour' : 'unit.sampled_minute');
    for (const b of document.querySelectorAll('#range button')) b.setAttribute('aria-pressed', String(b.dataset.range === state.range));
  }

  async function renderOverview() {
    const [queue, apps] = await Promise.all([api('queue').catch((e) => { if (e instanceof Unauthorized) throw e; return null; }), api('apps'), loadTimeSeries()]);
    if (queue) {
      for (const k of ['queued', 'waiting_credit', 'sending']) $('#stat-' + k).textContent = fmtNum(queue[k]);
      $('#stat-delivered').textContent = fmtNum(queue.counts.delivered);
      $('#stat-failed').textContent = fmtNum(TERMINAL_BAD.reduce((n, k) => n + (queue.counts[k] || 0), 0));
    }
    renderUnits();
    const out = state.samples.filter((x) => x.outcomes != null);
    const bad = (x) => TERMINAL_BAD.reduce((n, k) => n + (x.outcomes[k] || 0), 0);
    let delivered = 0, notDelivered = 0;
    for (const x of out) { delivered += x.outcomes.delivered || 0; notDelivered += bad(x); }
    const totals = $('#history-totals');
    totals.textContent = t('history.totals', fmtNum(delivered), fmtNum(notDelivered));
    totals.dataset.delivered = delivered;
    totals.dataset.notDelivered = notDelivered;
    lineChart($('#chart-rate'), [
      { name: 'delivered', label: t('series.delivered'), color: '#07a35a', points: out.map((x) => [Date.parse(x.at), x.outcomes.delivered || 0]) },
      { name: 'not delivered', label: t('series.not_delivered'), color: '#d64545', points: out.map((x) => [Date.parse(x.at), bad(x)]) },
    ], { label: t('chart.rate') });
    lineChart($('#chart-queue'), seriesOf('queue', ['queued', 'waiting_credit', 'sending'], 0, (k) => tv('state.', k))
      .map((ser, i) => ({ ...ser, color: ['#3d7ee8', '#d98e04', '#07a35a'][i] })), { label: t('chart.queue'), area: true });
    const errs = seriesOf('wechat_errors', null, 8);
    if (errs.some((ser) => ser.points.some((p) => p[1] > 0))) lineChart($('#chart-errors'), errs, { label: t('chart.errors') });
    else lineChart($('#chart-errors'), [], { empty: t('chart.no_errors') });
    renderTokenList($('#overview-tokens'), apps.apps || []);
    fillAppFilter(apps.apps || []);
  }

  function renderTokenList(el, apps) {
    el.replaceChildren();
    if (!apps.length) { el.append(h('p', { class: 'muted' }, t('apps.none_hint'))); return; }
    el.append(h('div', { class: 'token-list' }, apps.map((a) => h('div', { class: 'token-row' },
      h('div', {}, h('code', {}, a.appid), ' ', h('span', { class: 'muted' }, a.name || '')),
      h('div', {}, a.token && a.token.has_token ? h('span', { class: 'muted small' }, t('apps.expires', rel(a.token.expires_at)) + '  ') : null,
        badge('badge health-' + a.health, tv('health.', a.health)))))));
  }

  async function renderApps() {
    const [{ apps }] = await Promise.all([api('apps'), loadTemplates(true)]);
    fillAppFilter(apps || []);
    const body = $('#apps-body');
    body.replaceChildren();
    if (!apps || !apps.length) {
      body.append(h('tr', {}, h('td', { colspan: 9, class: 'muted empty' }, t('apps.none'))));
    }
    for (const a of apps || []) {
      const tk = a.token || {};
      const refreshBtn = h('button', { type: 'button', class: 'ghost small-btn', 'data-action': 'token-refresh', on: { click: () =>
        runAction(t('confirm.token.refresh', a.appid), 'apps/' + encodeURIComponent(a.appid) + '/token/refresh',
          (st) => t('done.token.refresh', a.appid, st.fetches)) } }, t('action.token_refresh'));
      const syncBtn = h('button', { type: 'button', class: 'ghost small-btn', 'data-action': 'templates-sync', on: { click: () =>
        runAction(t('confirm.templates.sync', a.appid), 'apps/' + encodeURIComponent(a.appid) + '/templates/sync',
          (r) => t('done.templates.sync', a.appid, r.added, r.removed)) } }, t('action.templates_sync'));
      body.append(h('tr', { id: 'app-' + a.appid },
        h('td', {}, h('code', {}, a.appid)),
        h('td', {}, a.name || '–'),
        h('td', {}, a.token_mode || 'stable'),
        h('td', {}, badge('badge health-' + a.health, tv('health.', a.health))),
        h('td', {}, tk.has_token ? rel(tk.expires_at) : '–'),
        h('td', {}, tk.refresh_at ? rel(tk.refresh_at) : '–'),
        h('td', { class: 'num fetches' }, fmtNum(tk.fetches)),
        h('td', { class: 'clip', title: tk.last_error || '' }, tk.last_error ? tk.last_error + ' (' + rel(tk.last_error_at) + ')' : '–'),
        h('td', { class: 'actions' }, refreshBtn, syncBtn)));
    }
    const tb = $('#templates-body');
    const list = [...state.templates.values()];
    tb.replaceChildren();
    if (!list.length) tb.append(h('tr', {}, h('td', { colspan: 6, class: 'muted empty' }, t('templates.none'))));
    for (const x of list) {
      tb.append(h('tr', { 'data-template': x.template_id, class: x.deleted ? 'deleted' : null },
        h('td', {}, h('code', {}, x.appid)),
        h('td', {}, (x.aliases || []).length ? x.aliases.map((al) => h('code', { class: 'alias' }, al)) : '–'),
        h('td', {}, x.title || '–', x.deleted ? [' ', badge('badge', t('templates.deleted'))] : null),
        h('td', {}, tv('kind.', x.kind)),
        h('td', { class: 'clip' }, h('code', { title: x.template_id }, x.template_id))));
    }
  }

  async function renderCredits() {
    const [{ stocks }] = await Promise.all([api('credits'), loadTimeSeries(), loadTemplates()]);
    const credits = seriesOf('credits', null, 10, creditLabel);
    lineChart($('#chart-credits'), credits, { height: 280, label: t('credits.chart'), area: credits.length <= 3 });
    const body = $('#credits-body');
    body.replaceChildren();
    if (!stocks || !stocks.length) {
      body.append(h('tr', {}, h('td', { colspan: 6, class: 'muted empty' }, t('credits.none'))));
      return;
    }
    for (const c of stocks) {
      body.append(h('tr', {},
        h('td', {}, h('code', {}, c.appid)), h('td', {}, tv('kind.', c.kind)), h('td', {}, c.template_id ? tplCell(c.appid, c.template_id) : '–'),
        h('td', { class: 'num' }, fmtNum(c.credits)), h('td', { class: 'num' }, fmtNum(c.uses)), h('td', { class: 'num' }, fmtNum(c.rejections))));
    }
  }

  function fillAppFilter(apps) {
    const sel = $('#filter-app');
    const ids = apps.map((a) => a.appid).join(',');
    if (sel.dataset.ids === ids) return;
    sel.dataset.ids = ids;
    const cur = sel.value;
    sel.replaceChildren(h('option', { value: '' }, t('filter.all_apps')), ...apps.map((a) => h('option', { value: a.appid }, a.appid + (a.name ? ' · ' + a.name : ''))));
    sel.value = cur;
  }

  async function renderMessages() {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(state.filters)) if (v) q.set(k, v);
    q.set('limit', String(PAGE_SIZE));
    if (state.before) q.set('before', String(state.before));
    const [{ messages }] = await Promise.all([api('messages?' + q), loadTemplates()]);
    const list = messages || [];
    $('#page-newest').disabled = !state.before;
    $('#page-older').disabled = list.length < PAGE_SIZE;
    $('#page-older').dataset.before = list.length ? list[list.length - 1].id : '';
    $('#page-info').textContent = list.length ? `#${list[0].id} – #${list[list.length - 1].id}` : '';
    $('#messages-body').replaceChildren(...list.map((m) => h('tr', {
      id: 'msg-' + m.id, 'data-id': m.id, class: m.id === state.selected ? 'selected' : null,
      on: { click: () => selectMessage(m.id) },
    },
      h('td', { class: 'num' }, m.id),
      h('td', {}, h('code', {}, m.appid)),
      h('td', { class: 'clip' }, h('code', {}, m.openid)),
      h('td', { class: 'clip' }, tplCell(m.appid, m.template_id)),
      h('td', {}, stateBadge(m.state)),
      h('td', { class: 'num' }, m.attempts),
      h('td', { title: m.updated_at }, fmtTime(m.updated_at)))));
    $('#messages-empty').hidden = list.length > 0;
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
    const close = h('button', { class: 'ghost', type: 'button', on: { click: () => { state.selected = 0; el.hidden = true; el.parentElement.classList.remove('open'); } } }, t('detail.close'));
    const actions = [];
    if (CANCELLABLE.includes(m.state)) {
      actions.push(h('button', { id: 'action-cancel', type: 'button', class: 'danger', on: { click: () =>
        runAction(t('confirm.message.cancel', m.id), 'messages/' + m.id + '/cancel', () => t('done.message.cancel', m.id)) } }, t('action.cancel')));
    }
    if (RETRYABLE.includes(m.state)) {
      actions.push(h('button', { id: 'action-retry', type: 'button', class: 'primary', on: { click: () =>
        runAction(t('confirm.message.retry', m.id), 'messages/' + m.id + '/retry', () => t('done.message.retry', m.id)) } }, t('action.retry')));
    }
    const rows = [
      ['detail.state', h('span', { id: 'detail-state' }, stateBadge(m.state))],
      ['detail.app', h('code', {}, m.appid)],
      ['detail.openid', h('code', {}, m.openid)],
      ['detail.kind', tv('kind.', m.kind)],
      ['detail.template', h('span', {}, tplLabel(m.appid, m.template_id), ' ', h('code', { class: 'muted small' }, shorten(m.template_id)))],
      ['detail.msgid', m.msgid || '–'],
      ['detail.last_error', m.last_error || '–'],
      ['detail.created', fmtTime(m.created_at)],
      ['detail.updated', fmtTime(m.updated_at)],
      ['detail.expires', fmtTime(m.expires_at)],
    ];
    if (m.broadcast_id) rows.push(['detail.broadcast', '#' + m.broadcast_id]);
    const data = Object.entries(m.data || {});
    el.replaceChildren(
      h('div', { class: 'detail-head' }, h('h2', {}, t('detail.title', m.id)), h('div', { class: 'actions' }, actions, close)),
      h('dl', {}, rows.flatMap(([k, v]) => [h('dt', {}, t(k)), h('dd', {}, v)])),
      data.length ? h('h3', {}, t('detail.data')) : null,
      data.length ? h('dl', {}, data.flatMap(([k, v]) => [h('dt', {}, h('code', {}, k)), h('dd', {}, v)])) : null,
      h('h3', {}, t('detail.attempts')),
      attempts.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'attempts' },
        h('thead', {}, h('tr', {}, ['attempt.n', 'attempt.at', 'attempt.errcode', 'attempt.class', 'attempt.latency', 'attempt.errmsg'].map((k) => h('th', {}, t(k))))),
        h('tbody', {}, attempts.map((a) => h('tr', {},
          h('td', {}, a.n), h('td', {}, fmtTime(a.at)),
          h('td', {}, badge(a.errcode === 0 ? 'state state-delivered' : 'state state-failed', a.errcode)),
          h('td', {}, a.class || '–'), h('td', { class: 'num' }, a.latency_ms.toFixed(1) + ' ms'),
          h('td', { class: 'clip', title: a.errmsg || '' }, a.errmsg || '–')))))) : h('p', { class: 'muted' }, t('detail.not_sent')));
    el.hidden = false;
    el.parentElement.classList.add('open');
  }

  // Broadcast outcomes as the progress bar shows them: no_credit is its
  // own outcome, not a failure.
  const BC_SEGMENTS = [
    ['delivered', (c) => c.delivered || 0],
    ['failed', (c) => (c.failed || 0) + (c.ambiguous || 0)],
    ['no_credit', (c) => c.no_credit || 0],
    ['expired', (c) => (c.expired || 0) + (c.cancelled || 0)],
  ];

  async function renderBroadcasts() {
    const ids = $('#broadcast-ids').value.replace(/\s+/g, '');
    const [{ broadcasts }] = await Promise.all([api('broadcasts' + (ids ? '?id=' + encodeURIComponent(ids) : '')), loadTemplates()]);
    const el = $('#broadcasts');
    el.replaceChildren();
    const list = broadcasts || [];
    setFast(list.some((b) => b.state === 'accepting' || b.state === 'accepted'));
    if (!list.length) {
      el.append(h('div', { class: 'card muted empty' }, ids ? t('bc.none_ids') : t('bc.none')));
      return;
    }
    for (const b of list) {
      const c = b.counts || {};
      const total = Math.max(b.total || 0, b.accepted || 0, 1);
      const bar = h('div', { class: 'progress', role: 'progressbar', 'aria-valuenow': c.delivered || 0, 'aria-valuemax': b.total || 0 });
      const legend = [];
      let known = 0;
      for (const [name, count] of [...BC_SEGMENTS, ['pending', () => b.pending || 0]]) {
        const n = count(c);
        known += n;
        const label = name === 'pending' ? t('bc.pending') : name === 'expired' ? t('state.expired') + ' / ' + t('state.cancelled')
          : name === 'failed' ? t('state.failed') + ' / ' + t('state.ambiguous') : tv('state.', name);
        if (n) {
          const seg = h('span', { class: 'seg-' + name, title: label + ': ' + n });
          seg.style.width = ((n / total) * 100).toFixed(2) + '%';
          bar.append(seg);
        }
        if (n || name === 'delivered' || name === 'pending') legend.push(h('span', { 'data-outcome': name }, h('i', { class: 'seg-' + name }), label + ' ', h('b', {}, fmtNum(n))));
      }
      const pct = (((c.delivered || 0) / total) * 100).toFixed(1);
      el.append(h('div', { class: 'card', id: 'broadcast-' + b.id, 'data-state': b.state },
        h('div', { class: 'bc-head' }, h('h2', {}, t('bc.title', b.id) + ' ', badge('badge bc-state bcstate-' + b.state, tv('bcstate.', b.state))), h('b', {}, t('bc.delivered_pct', pct))),
        h('div', { class: 'bc-meta' }, h('code', {}, b.appid), ' · ', tplCell(b.appid, b.template_id), ' · ', t('bc.meta', fmtNum(b.accepted), fmtTime(b.created_at)),
          b.finished_at ? ' · ' + t('bc.finished_at', fmtTime(b.finished_at)) : '',
          b.error ? ' · ' + t('bc.error', b.error) : ''),
        bar,
        h('div', { class: 'legend' }, legend)));
    }
  }

  async function renderSchedules() {
    const [{ schedules }] = await Promise.all([api('schedules'), loadTemplates()]);
    const body = $('#schedules-body');
    body.replaceChildren();
    if (!schedules || !schedules.length) {
      body.append(h('tr', {}, h('td', { colspan: 9, class: 'muted empty' }, t('schedules.none'))));
      return;
    }
    for (const sc of schedules) {
      const path = 'schedules/' + sc.id + '/';
      const btn = (action, cls) => h('button', { type: 'button', class: cls + ' small-btn', 'data-action': action, on: { click: () =>
        runAction(t('confirm.schedule.' + action, sc.name), path + action, () => t('done.schedule.' + action, sc.id)) } }, t('action.' + action));
      body.append(h('tr', { id: 'schedule-' + sc.id, 'data-state': sc.state },
        h('td', { class: 'num' }, sc.id),
        h('td', {}, h('code', {}, sc.appid)),
        h('td', {}, sc.name),
        h('td', {}, h('code', {}, sc.cron), ' ', h('span', { class: 'muted small' }, sc.timezone || 'UTC')),
        h('td', { class: 'clip' }, tplCell(sc.appid, sc.message && sc.message.template_id)),
        h('td', { class: 'num' }, fmtNum(((sc.message && sc.message.openids) || []).length)),
        h('td', {}, badge('badge schedstate-' + sc.state, tv('schedstate.', sc.state))),
        h('td', { title: sc.next_run_at || '' }, sc.next_run_at ? rel(sc.next_run_at) : '–'),
        h('td', { title: sc.last_run_at || '' }, sc.last_run_at ? fmtTime(sc.last_run_at) : t('never')),
        h('td', { class: 'actions' }, sc.state === 'paused' ? btn('resume', 'ghost') : btn('pause', 'ghost'), btn('delete', 'danger'))));
    }
  }

  async function renderJobs() {
    const { jobs } = await api('jobs');
    const body = $('#jobs-body');
    body.replaceChildren();
    if (!jobs || !jobs.length) {
      body.append(h('tr', {}, h('td', { colspan: 8, class: 'muted empty' }, t('jobs.none'))));
      return;
    }
    for (const j of jobs) {
      body.append(h('tr', { id: 'job-' + j.name },
        h('td', { title: j.doc || '' }, h('code', {}, j.name), j.running ? [' ', badge('badge health-valid', t('jobs.running'))] : null),
        h('td', {}, fmtSpan(j.interval_seconds || 0)),
        h('td', { title: j.last_run || '' }, j.last_run ? fmtTime(j.last_run) : t('never')),
        h('td', { class: 'num' }, j.last_run ? (j.last_seconds || 0).toFixed(2) + ' s' : '–'),
        h('td', { title: j.next_run || '' }, j.next_run ? rel(j.next_run) : '–'),
        h('td', { class: 'num' }, fmtNum(j.runs)),
        h('td', { class: 'num' }, fmtNum(j.errors)),
        h('td', { class: 'clip', title: j.last_error || '' }, j.last_error ? h('span', { class: 'error-text' }, j.last_error) : badge('badge health-valid', t('jobs.ok')))));
    }
  }

  async function renderAudit() {
    const action = $('#audit-action').value;
    const { entries } = await api('audit?limit=100' + (action ? '&action=' + encodeURIComponent(action) : ''));
    const body = $('#audit-body');
    body.replaceChildren();
    if (!entries || !entries.length) {
      body.append(h('tr', {}, h('td', { colspan: 6, class: 'muted empty' }, t('audit.none'))));
      return;
    }
    for (const e of entries) {
      body.append(h('tr', { id: 'audit-' + e.id, 'data-action': e.action },
        h('td', { title: e.at }, fmtTime(e.at)),
        h('td', { class: 'clip', title: e.actor }, e.actor),
        h('td', {}, tv('audit.', e.action)),
        h('td', {}, e.appid ? h('code', {}, e.appid) : '–'),
        h('td', {}, e.target),
        h('td', { class: 'audit-detail' }, e.detail ? e.detail.replace(/[a-z_]+/g, (w) => (I18N.en['state.' + w] !== undefined ? t('state.' + w) : I18N.en['schedstate.' + w] !== undefined ? t('schedstate.' + w) : w)) : '–')));
    }
  }

  const views = {
    overview: renderOverview, apps: renderApps, credits: renderCredits, messages: renderMessages,
    broadcasts: renderBroadcasts, schedules: renderSchedules, jobs: renderJobs, audit: renderAudit,
  };

  // ---- shell ----

  function onError(err) {
    if (err instanceof Unauthorized) { showLogin(); return; }
    setBanner(t('load.error', err.message));
  }

  async function refresh() {
    try {
      await views[state.tab]();
      setBanner('');
      $('#updated').textContent = t('updated', new Date().toLocaleTimeString(locale(), { hour12: false }));
    } catch (err) { onError(err); }
  }

  function schedule() {
    for (const x of state.timers) clearInterval(x);
    state.timers = [setInterval(refresh, state.tab === 'messages' || state.fast ? FAST_POLL_MS : POLL_MS)];
  }
  // setFast polls faster while something is in progress.
  function setFast(on) {
    if (state.fast === on) return;
    state.fast = on;
    schedule();
  }

  function showTab(tab) {
    if (!views[tab]) tab = 'overview';
    state.tab = tab;
    state.fast = false;
    notice('');
    for (const b of document.querySelectorAll('#nav button')) b.setAttribute('aria-selected', String(b.dataset.tab === tab));
    for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== 'view-' + tab;
    const cur = document.querySelector('#nav button[aria-selected="true"]');
    if (cur && cur.scrollIntoView) cur.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    if (location.hash !== '#' + tab) history.replaceState(null, '', '#' + tab);
    schedule();
    refresh();
  }

  function showLogin() {
    for (const x of state.timers) clearInterval(x);
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

  // The audit filter lists every action.
  $('#audit-action').append(...Object.keys(I18N.en).filter((k) => k.startsWith('audit.') && k.split('.').length === 3)
    .map((k) => h('option', { value: k.slice(6), 'data-i18n': k }, t(k))));
  applyI18n();

  for (const sel of document.querySelectorAll('.lang-select')) sel.addEventListener('change', () => setLang(sel.value));
  $('#login').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const err = $('#login-error');
    err.textContent = '';
    const res = await post('login', { password: $('#password').value }).catch(() => null);
    if (res && res.ok) { $('#password').value = ''; showApp(); return; }
    const body = res ? await res.json().catch(() => ({})) : {};
    err.textContent = (body.error && body.error.message) || t('login.unreachable');
    $('#password').value = '';
    $('#password').focus();
  });
  $('#logout').addEventListener('click', async () => { await post('logout').catch(() => null); showLogin(); });
  for (const b of document.querySelectorAll('#nav button')) b.addEventListener('click', () => showTab(b.dataset.tab));
  for (const b of document.querySelectorAll('#range button')) {
    b.addEventListener('click', () => {
      state.range = b.dataset.range;
      try { localStorage.setItem(RANGE_KEY, state.range); } catch (_) { /* storage off */ }
      refresh();
    });
  }
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
  $('#audit-filters').addEventListener('submit', (ev) => { ev.preventDefault(); refresh(); });
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && !$('#confirm').hidden) $('#confirm-back').click(); });
  document.addEventListener('visibilitychange', () => { if (!document.hidden && !$('#app').hidden) refresh(); });

  api('session').then(showApp, (err) => {
    showLogin();
    if (!(err instanceof Unauthorized)) $('#login-error').textContent = t('load.error', err.message);
  });
})();
