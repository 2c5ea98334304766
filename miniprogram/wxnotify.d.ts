// Type declarations of wxnotify.js, the mini-program helper of a wxnotify
// server. Keep them in step with wxnotify.js: wxnotify.test.js checks that
// every export and every client method is declared here, and nothing more.

/** The error codes of a wxnotify server's answers. */
export type ErrorCode =
  | 'conflict'
  | 'internal'
  | 'invalid'
  | 'not_found'
  | 'unauthorized'
  | 'forbidden'
  | 'rate_limited'
  | 'unavailable'

/**
 * The error every failed call rejects with. A request that got no answer
 * (no network, a domain not in the request legal domains) is 'unavailable'
 * with status 0.
 */
export interface WxnotifyError extends Error {
  name: 'WxnotifyError'
  /** The server's error code; a string so that codes added later still type-check. */
  code: ErrorCode | (string & {})
  /** The HTTP status; 0 when there was no answer. */
  status: number
  /** The input at fault ('code', 'form_ids[2]'), or for a failed requestSubscribeMessage its errCode. */
  field?: string
}

/** The options of a request, as wx.request, uni.request and Taro.request take them. */
export interface RequestOptions {
  url: string
  method: 'GET' | 'POST'
  data?: Record<string, any>
  header: Record<string, string>
  dataType: 'json'
  /** Called with a RequestSuccess (typed any: each platform's typings name it differently). */
  success(res: any): void
  /** Called with a PlatformError. */
  fail(err: any): void
}

/** What a request's success callback (or Promise) gives. */
export interface RequestSuccess {
  statusCode: number
  /** The answer, parsed JSON (a string is parsed too). */
  data: unknown
  header?: Record<string, string>
}

/** What a platform's fail callback gives. */
export interface PlatformError {
  errMsg?: string
  errCode?: number
}

export interface LoginOptions {
  /** Called with {code}. */
  success(res: any): void
  /** Called with a PlatformError. */
  fail(err: any): void
}

export interface RequestSubscribeMessageOptions {
  tmplIds: string[]
  /** Called with a SubscribeResult. */
  success(res: any): void
  /** Called with a PlatformError. */
  fail(err: any): void
}

/**
 * The platform functions (request, login, requestSubscribeMessage) are
 * called as wx's are, with success and fail callbacks; one may instead (or
 * also) return a Promise, as Taro's and uni-app's promisified APIs do: the
 * helper settles on whichever comes first. Any other return value (a
 * RequestTask) is ignored. They are declared as methods so that wx, uni and
 * Taro, each with its own typings, can be passed as they are.
 */

/** The storage the session is cached in: wx's synchronous storage API. */
export interface SessionStorage {
  getStorageSync(key: string): any
  setStorageSync(key: string, value: any): void
  removeStorageSync(key: string): void
}

/**
 * An object with wx's API: wx itself, uni (uni-app) or Taro. Its functions
 * are called with RequestOptions, LoginOptions and
 * RequestSubscribeMessageOptions; they take any here because each
 * platform's typings declare their options differently (Taro's ask for
 * Alipay's entityIds too).
 */
export interface PlatformAPI extends SessionStorage {
  request(options: any): unknown
  login(options: any): unknown
  requestSubscribeMessage?(options: any): unknown
}

export interface CreateOptions {
  /** The wxnotify server, e.g. 'https://notify.example.com'; its domain must be a request legal domain. */
  baseURL: string
  /** The mini program's appid. */
  appId: string
  /** Where the session is cached. Default 'wxnotify_session'. */
  storageKey?: string
  /** How long reportFormIds waits to batch, in milliseconds. Default 1000. */
  debounceMs?: number
  /** wx, uni or Taro. Default the global wx, else the global uni. */
  wx?: Partial<PlatformAPI>
  /** Replaces wx.request. */
  request?(options: RequestOptions): unknown
  /** Replaces wx.login (uni-app: uni.login with provider 'weixin'). */
  login?(options: LoginOptions): unknown
  /** Replaces wx.requestSubscribeMessage. */
  requestSubscribeMessage?(options: RequestSubscribeMessageOptions): unknown
  /** Replaces the storage. */
  storage?: SessionStorage
}

/** A session, as cached in storage. The token is a secret: never log it. */
export interface Session {
  token: string
  /** Milliseconds since the epoch. */
  expiresAt: number
}

/** The user's answer for one template in wx.requestSubscribeMessage. */
export type SubscribeAnswer = 'accept' | 'reject' | 'ban' | 'filter' | 'acceptWithAudio' | 'acceptWithAlert' | (string & {})

/**
 * The result object of wx.requestSubscribeMessage: one answer per template
 * id, and errMsg.
 */
export type SubscribeResult = { errMsg: string; errCode?: number } & { [templateId: string]: SubscribeAnswer | number | undefined }

/** A kind of send credit. */
export type CreditKind = 'subscribe' | 'long_term' | 'form_id' | 'prepay_id' | (string & {})

/** What the user can still be sent: GET /mp/v1/apps/{appid}/credits. */
export interface Credit {
  kind: CreditKind
  /** Subscribe credits only: the template they are for. */
  template_id?: string
  /** How many credits. */
  credits: number
  /** How many sends they allow (a prepay_id allows 3). */
  uses: number
}

export interface Client {
  /** Runs login and exchanges its code for a session (cached); concurrent calls share one login. */
  login(): Promise<Session>
  /**
   * Queues form_ids (from <form report-submit>) and sends them in one
   * request after debounceMs without further calls. DevTools' mock form_id
   * and empty values are dropped. Resolves with how many of the whole batch
   * were new.
   */
  reportFormIds(ids: string | string[]): Promise<{ added: number }>
  /** Sends the queued form_ids now. */
  flushFormIds(): Promise<void>
  /**
   * Shows requestSubscribeMessage for tmplIds and reports the user's
   * answers; resolves with the result object once the server recorded it.
   * Call it from a tap handler.
   */
  requestSubscribe(tmplIds: string[]): Promise<SubscribeResult>
  /** What this user can still be sent. */
  credits(): Promise<{ credits: Credit[] }>
  /** Forgets the cached session. */
  logout(): void
}

/** Returns a client for one app. Throws if baseURL or appId is missing, or no platform API is found. */
export function create(options: CreateOptions): Client

/** Tells an error of this helper from any other. */
export function isWxnotifyError(err: unknown): err is WxnotifyError

/** The form_id DevTools hands out instead of a real one; reportFormIds drops it. */
export const MOCK_FORM_ID: 'the formId is a mock one'

declare const wxnotify: {
  create: typeof create
  isWxnotifyError: typeof isWxnotifyError
  MOCK_FORM_ID: typeof MOCK_FORM_ID
}
export default wxnotify
