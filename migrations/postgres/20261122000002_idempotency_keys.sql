-- Idempotency keys (Stripe's semantics): the first request with a key runs, and its final
-- response is kept so a retry gets it again instead of running twice.
CREATE TABLE idempotency_keys (
    caller            TEXT NOT NULL,          -- whose key: keys of different callers never collide
    key               TEXT NOT NULL,          -- the Idempotency-Key header, 1 to 255 printable chars
    fingerprint       TEXT NOT NULL,          -- SHA-256 of method, path, caller and canonical body
    token             UUID NOT NULL,          -- the current holder's claim; replaced on takeover
    locked_until      TIMESTAMPTZ NOT NULL,   -- while unfinished, others wait until then (a lease)
    order_id          UUID,                   -- the order the request created, committed with it
    response_status   SMALLINT,               -- set once finished, with the two columns below
    response_headers  TEXT,                   -- JSON list of [name, value] pairs that matter
    response_body     BYTEA,
    created_at        TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,   -- after this the key may be used afresh
    PRIMARY KEY (caller, key),
    CHECK ((response_status IS NULL) = (response_body IS NULL))
);

-- Backs the purge of expired keys.
CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);
