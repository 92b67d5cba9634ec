-- The per-token write limit (CAREACCESS_WRITES_PER_MINUTE), shared by every replica of the
-- store: the writes of a token in one minute (window_start: its first second, in seconds
-- since 1970), counted by one upsert per write. Rows of past minutes are deleted as new
-- minutes start, so the table holds about one row per token writing now.
CREATE TABLE write_counts (
    token_id TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (token_id, window_start)
);
