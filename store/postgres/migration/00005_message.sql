-- The message table, which is also the delivery queue (docs/decisions.md),
-- and the attempts made for each message. Matches the SQLite migration of
-- the same number.
--
-- Delivered rows stay (the table is the record GET /v1/messages/{id} reads)
-- until MessagePurge; the partial indexes keep the hot paths (claim,
-- recovery, expiry, waiting for credit) to the rows in those states.

-- +goose Up
CREATE TABLE message (
    -- The sequence is named so that MessageInsertMany can draw ids in the
    -- statement and map each row back to its request by id.
    id                bigint      GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME message_id_seq) PRIMARY KEY,
    appid             text        NOT NULL,  -- no foreign key: the history outlives its app
    openid            text        NOT NULL,
    kind              text        NOT NULL,  -- subscribe, template
    template_id       text        NOT NULL,
    data              jsonb       NOT NULL,
    page              text        NOT NULL DEFAULT '',
    miniprogram_state text        NOT NULL DEFAULT '',
    lang              text        NOT NULL DEFAULT '',
    emphasis_keyword  text        NOT NULL DEFAULT '',
    run_at            timestamptz NOT NULL,  -- due time: send_at, then the retry time
    expires_at        timestamptz,           -- NULL: never
    wait_for_credit   boolean     NOT NULL DEFAULT false,
    idempotency_key   text,                  -- NULL: none
    broadcast_id      bigint,
    schedule_id       bigint,
    state             text        NOT NULL DEFAULT 'queued',
    attempts          integer     NOT NULL DEFAULT 0,
    claimed_by        text,                  -- NULL unless sending
    lease_until       timestamptz,
    credit_id         bigint,                -- the reserved credit; no foreign key: CreditPurge deletes credits
    credit_value      text        NOT NULL DEFAULT '',
    msgid             text        NOT NULL DEFAULT '',
    last_error        text        NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);

-- Idempotent accept: ON CONFLICT (appid, idempotency_key) DO NOTHING.
CREATE UNIQUE INDEX message_idempotency ON message (appid, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- The claim: due queued messages, oldest first, ties by id, read in index
-- order with no sort. state = 'queued' is a literal in the claim too.
CREATE INDEX message_queued ON message (run_at, id) WHERE state = 'queued';

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
    message_id bigint           NOT NULL, -- no foreign key: MessagePurge deletes both
    n          integer          NOT NULL,
    at         timestamptz      NOT NULL,
    errcode    integer          NOT NULL,
    errmsg     text             NOT NULL,
    class      text             NOT NULL,
    latency_ms double precision NOT NULL,
    PRIMARY KEY (message_id, n)
);

-- +goose Down
DROP TABLE attempt;
DROP TABLE message;
