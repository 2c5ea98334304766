// Package delivery is the pipeline of a message, one way: accept (durable
// before the caller's 202, group-committed) → claim (with a credit reserved
// in the same transaction) → token → WeChat → record the outcome. The
// queue's rules (claim, finish, expire, …) are package queue's; delivery
// decides, from WeChat's answer, what each outcome is.
//
// The message table is the queue (docs/decisions.md). Each instance claims
// only as many messages as it has free senders, so the messages it holds are
// the ones in flight: when an instance dies, its claimed messages are exactly
// those that may have reached WeChat, and they are resolved as ambiguous
// after their lease, never sent twice.
package delivery
