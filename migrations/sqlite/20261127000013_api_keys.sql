-- API keys for trusted backends. The key itself is never stored: only the SHA-256 of its
-- secret part, which a request's key must match. Every request reads the row, so a revocation
-- holds at once for every process on this file.
CREATE TABLE api_keys (
    id            BLOB PRIMARY KEY CHECK (length(id) = 16), -- also written in the key
    name          TEXT NOT NULL,
    scopes        TEXT NOT NULL,            -- space-separated, e.g. 'orders:read orders:write'
    secret_hash   BLOB NOT NULL CHECK (length(secret_hash) = 32),
    created_at    INTEGER NOT NULL,         -- microseconds since the epoch
    created_by    TEXT NOT NULL,            -- the admin token's subject
    revoked_at    INTEGER,
    last_used_at  INTEGER
) STRICT;
