-- An order's nested parts move into one document column (docs/performance.md, "How an order is
-- stored"): its lines with what they were when ordered, its shipping lines, and its details
-- (contact, addresses, notes, tags, metadata, channel), as JSON text. Amounts inside it are
-- strings, so money stays exact. What lists filter on stays a column: the email's match key
-- (lowercased) and the channel, written from the same values as the document on every write.
ALTER TABLE orders ADD COLUMN shipping TEXT NOT NULL DEFAULT '0';   -- Σ shipping lines
ALTER TABLE orders ADD COLUMN email_key TEXT;      -- the contact's email, lowercased; NULL without one
ALTER TABLE orders ADD COLUMN channel TEXT NOT NULL DEFAULT 'api';
ALTER TABLE orders ADD COLUMN document TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(document));

-- Orders placed before: their lines, in their order; ids as hyphenated text, as the store
-- writes them.
UPDATE orders SET document = json_object('lines', (
    SELECT json_group_array(json_object(
               'product_id', lower(substr(hex(i.product_id), 1, 8) || '-' ||
                                   substr(hex(i.product_id), 9, 4) || '-' ||
                                   substr(hex(i.product_id), 13, 4) || '-' ||
                                   substr(hex(i.product_id), 17, 4) || '-' ||
                                   substr(hex(i.product_id), 21, 12)),
               'quantity', i.quantity,
               'unit_price', i.unit_price,
               'line_total', i.line_total) ORDER BY i.position)
    FROM order_items i WHERE i.order_id = orders.id));

DROP TABLE order_items;
