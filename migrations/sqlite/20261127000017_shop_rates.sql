-- The shop's rates: its tax table ('taxes') and its shipping methods ('shipping'), each one
-- row holding the whole table as a JSON document, replaced whole against its version (the ETag).
CREATE TABLE shop_rates (
    name        TEXT PRIMARY KEY CHECK (name IN ('taxes', 'shipping')),
    version     INTEGER NOT NULL CHECK (version >= 1),
    updated_at  INTEGER,                     -- microseconds since the epoch; null until replaced
    document    TEXT NOT NULL
) STRICT;
-- Every shop starts with no rates: no tax, and shipping only as staff give it.
INSERT INTO shop_rates (name, version, document) VALUES
    ('taxes', 1, '{"prices_include_tax": false, "rates": []}'),
    ('shipping', 1, '[]');
