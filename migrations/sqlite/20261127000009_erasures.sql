-- Each erasure of a customer's personal data (`POST /v1/customers/{id}/erasure`, `ordo
-- customers erase`): who asked, when, and how many orders it changed. The record holds no
-- personal data itself; asking twice records twice and changes nothing the second time.
CREATE TABLE erasures (
    id           BLOB PRIMARY KEY CHECK (length(id) = 16),
    customer_id  BLOB NOT NULL CHECK (length(customer_id) = 16),
    erased_by    TEXT NOT NULL,            -- the caller's scope (role and subject)
    erased_at    INTEGER NOT NULL,         -- microseconds since the epoch
    orders       INTEGER NOT NULL CHECK (orders >= 0)  -- orders changed by this erasure
) STRICT;

CREATE INDEX erasures_customer_idx ON erasures (customer_id, erased_at);
