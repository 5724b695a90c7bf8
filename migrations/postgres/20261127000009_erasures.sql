-- Each erasure of a customer's personal data (`POST /v1/customers/{id}/erasure`, `ordo
-- customers erase`): who asked, when, and how many orders it changed. The record holds no
-- personal data itself; asking twice records twice and changes nothing the second time.
CREATE TABLE erasures (
    id           UUID PRIMARY KEY,
    customer_id  UUID NOT NULL,
    erased_by    TEXT NOT NULL,            -- the caller's scope (role and subject)
    erased_at    TIMESTAMPTZ NOT NULL,
    orders       INTEGER NOT NULL CHECK (orders >= 0)  -- orders changed by this erasure
);

CREATE INDEX erasures_customer_idx ON erasures (customer_id, erased_at);
