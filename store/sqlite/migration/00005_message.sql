-- The message table, which is also the delivery queue (docs/decisions.md),
-- and the attempts made for each message. Times are INTEGER unix
-- microseconds (00001). Matches the PostgreSQL migration of the same number.
--
-- Delivered rows stay (the table is the record GET /v1/messages/{id} reads)
-- until MessagePurge; the partial indexes keep the hot paths (claim,
-- recovery, expiry, waiting for credit) to the rows in those states.

-- +goose Up
CREATE TABLE message (
    -- AUTOINCREMENT: ids are handed to API clients, so a purged id is never
    -- given to a new message (a plain rowid reuses the largest after a delete).
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    appid             TEXT    NOT NULL,   -- no foreign key: the history outlives its app
    openid            TEXT    NOT NULL,
    kind              TEXT    NOT NULL,   -- subscribe, template
    template_id       TEXT    NOT NULL,
    data              TEXT    NOT NULL CHECK (json_valid(data)), -- rejected as by PostgreSQL's jsonb
    page              TEXT    NOT NULL DEFAULT '',
    miniprogram_state TEXT    NOT NULL DEFAULT '',
    lang              TEXT    NOT NULL DEFAULT '',
    emphasis_keyword  TEXT    NOT NULL DEFAULT '',
    run_at            INTEGER NOT NULL,   -- due time: send_at, then the retry time
    expires_at        INTEGER,            -- NULL: never
    wait_for_credit   INTEGER NOT NULL DEFAULT 0,
    idempotency_key   TEXT,               -- NULL: none
    broadcast_id      INTEGER,
    schedule_id       INTEGER,
    state             TEXT    NOT NULL DEFAULT 'queued',
    attempts          INTEGER NOT NULL DEFAULT 0,
    claimed_by        TEXT,               -- NULL unless sending
    lease_until       INTEGER,
    credit_id         INTEGER,            -- the reserved credit; no foreign key: CreditPurge deletes credits
    credit_value      TEXT    NOT NULL DEFAULT '',
    msgid             TEXT    NOT NULL DEFAULT '',
    last_error        TEXT    NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;

-- Idempotent accept: ON CONFLICT (appid, idempotency_key) DO NOTHING.
CREATE UNIQUE INDEX message_idempotency ON message (appid, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- The claim: due queued messages, oldest first (the rowid breaks ties). The
-- claim spells state = 'queued' as a literal so the planner matches it.
CREATE INDEX message_queued ON message (run_at) WHERE state = 'queued';

-- MessageRecover: leases that expired. lease_until is set exactly while a
-- message is sending (the claim sets it, every other move clears it). The
-- predicate does not name state on purpose: an index WHERE state =
-- 'sending' also matches the finish's guard (state = 'sending'), and with
-- the few sending rows of a large table underestimated, the planner then
-- scans that index once per finished message instead of looking each one
-- up by id.
CREATE INDEX message_sending ON message (lease_until) WHERE lease_until IS NOT NULL;

-- MessageExpire.
CREATE INDEX message_expiry ON message (expires_at) WHERE state IN ('queued', 'waiting_credit');

-- MessageRequeueWaiting, and a user's waiting messages.
CREATE INDEX message_waiting ON message (appid, openid) WHERE state = 'waiting_credit';

-- MessageList and MessageCounts per app and per broadcast, newest first.
CREATE INDEX message_app ON message (appid, id);
CREATE INDEX message_broadcast ON message (broadcast_id, id) WHERE broadcast_id IS NOT NULL;

CREATE TABLE attempt (
    message_id INTEGER NOT NULL, -- no foreign key: MessagePurge deletes both
    n          INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    errcode    INTEGER NOT NULL,
    errmsg     TEXT    NOT NULL,
    class      TEXT    NOT NULL,
    latency_ms REAL    NOT NULL,
    PRIMARY KEY (message_id, n)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE attempt;
DROP TABLE message;
