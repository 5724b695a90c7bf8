-- API keys for trusted backends. The key itself is never stored: only the SHA-256 of its
-- secret part, which a request's key must match. Every replica reads the row on each request,
-- so a revocation holds at once everywhere.
CREATE TABLE api_keys (
    id            UUID PRIMARY KEY,         -- also written in the key, to find the row
    name          TEXT NOT NULL,
    scopes        TEXT NOT NULL,            -- space-separated, e.g. 'orders:read orders:write'
    secret_hash   BYTEA NOT NULL CHECK (length(secret_hash) = 32),
    created_at    TIMESTAMPTZ NOT NULL,
    created_by    TEXT NOT NULL,            -- the admin token's subject
    revoked_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ               -- to the minute: written at most once a minute
);
