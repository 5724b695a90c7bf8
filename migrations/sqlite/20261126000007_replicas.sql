-- Facts every process sharing this database must agree on, written once by the first to start
-- (today: a fingerprint of the order-number key, never the key itself).
CREATE TABLE shared_facts (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) STRICT;

-- One process at a time runs each background job (reconciliation, the key purge): the holder
-- renews its lease every period; when it stops, another takes the job once the lease ends.
CREATE TABLE job_leases (
    job     TEXT PRIMARY KEY,
    holder  BLOB NOT NULL,            -- the process's id, new at every start
    until   INTEGER NOT NULL          -- microseconds since the epoch
) STRICT;
