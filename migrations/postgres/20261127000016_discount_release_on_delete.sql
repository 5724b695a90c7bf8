-- A deleted order gives its use of a discount code back too, as a cancelled one does: it will
-- never be read or changed again, so its use would otherwise be held for good. The release is
-- keyed on the order's redemption row, so an order gives its use back once, whichever comes
-- first; `used` never goes below zero.
DROP TRIGGER orders_cancel_releases_code ON orders;

CREATE OR REPLACE FUNCTION discount_redemption_release() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE discount_codes c SET used = c.used - 1
    FROM discount_redemptions r WHERE r.order_id = NEW.id AND c.id = r.code_id AND c.used > 0;
    DELETE FROM discount_redemptions WHERE order_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER orders_end_releases_code AFTER UPDATE OF status, deleted_at ON orders
    FOR EACH ROW WHEN ((NEW.status = 'cancelled' AND OLD.status <> 'cancelled')
                       OR (NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL))
    EXECUTE FUNCTION discount_redemption_release();
