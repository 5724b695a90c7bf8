-- A term's kind and its text are not independent ('vip' is only ever a tag): without statistics
-- on the pair, the planner multiplies their frequencies and takes a common tag for a rare one,
-- then reads every order of it by the terms index instead of walking the newest orders
-- (measured: 93 ms against 7.6 ms for `tag=fragile&channel=pos` on 100k seeded orders).
CREATE STATISTICS order_terms_kind_term (mcv, dependencies) ON kind, term FROM order_terms;
ANALYZE order_terms;
