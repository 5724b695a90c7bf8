-- Each server process takes order-number sequence values in blocks of 64 and hands them out
-- itself, saving a round trip per order. Blocks never overlap, so numbers stay unique across
-- replicas; values left in a block when a process stops are skipped (numbers have gaps, which
-- the keyed permutation hides anyway). The block size must match SEQUENCE_BLOCK in postgres.rs.
ALTER SEQUENCE order_number_seq INCREMENT BY 64;
