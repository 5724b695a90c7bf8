-- How far each relay (the NATS publisher) has published the feed; moved by compare-and-set
-- after the broker acknowledged what it published, so a relay resumes where it stopped.
CREATE TABLE feed_relays (
    name  TEXT PRIMARY KEY,
    tx    INTEGER NOT NULL,
    seq   INTEGER NOT NULL
) STRICT;
