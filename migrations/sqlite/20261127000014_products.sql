-- The price book: the shop's products and their prices, which orders by SKU are priced from.
-- What lists filter and sort on are columns; the rest (title, options, whether it ships, the
-- prices by currency as strings) is one JSON document.
CREATE TABLE products (
    id          BLOB PRIMARY KEY CHECK (length(id) = 16),
    sku         TEXT NOT NULL,               -- BINARY collation: byte order, as on PostgreSQL
    status      TEXT NOT NULL CHECK (status IN ('active', 'archived')),
    tax_class   TEXT NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    created_at  INTEGER NOT NULL,            -- microseconds since the epoch
    updated_at  INTEGER NOT NULL,
    document    TEXT NOT NULL,
    CONSTRAINT products_sku_key UNIQUE (sku)
) STRICT;
-- Lists filtered by status or tax class, in SKU order.
CREATE INDEX products_status_sku_idx ON products (status, sku);
CREATE INDEX products_tax_class_sku_idx ON products (tax_class, sku);
