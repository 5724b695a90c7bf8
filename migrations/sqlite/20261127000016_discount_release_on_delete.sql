-- A deleted order gives its use of a discount code back too, as a cancelled one does: it will
-- never be read or changed again, so its use would otherwise be held for good. The release is
-- keyed on the order's redemption row, so an order gives its use back once, whichever comes
-- first; `used` never goes below zero.
DROP TRIGGER orders_cancel_releases_code;

CREATE TRIGGER orders_end_releases_code AFTER UPDATE OF status, deleted_at ON orders
WHEN (new.status = 'cancelled' AND old.status <> 'cancelled')
  OR (new.deleted_at IS NOT NULL AND old.deleted_at IS NULL) BEGIN
    UPDATE discount_codes SET used = used - 1
    WHERE id = (SELECT code_id FROM discount_redemptions WHERE order_id = new.id) AND used > 0;
    DELETE FROM discount_redemptions WHERE order_id = new.id;
END;
