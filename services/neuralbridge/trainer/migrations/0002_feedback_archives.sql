-- Feedback archives written by the feedback_cleanup job (seed 001): one row per run
-- that archived feedback to a gzip JSONL file and, in the same transaction, deleted
-- those rows from `feedback`. A file in the archive directory without a row here was
-- never committed (its rows are still in `feedback`); the next run removes it.

CREATE TABLE feedback_archives (
    run_id          uuid PRIMARY KEY,
    file_name       text NOT NULL UNIQUE,
    path            text NOT NULL,
    cutoff          timestamptz NOT NULL,
    retention_days  integer NOT NULL,
    row_count       integer NOT NULL CHECK (row_count > 0),
    bytes           bigint NOT NULL CHECK (bytes > 0),
    sha256          text NOT NULL,
    oldest_given_at timestamptz NOT NULL,
    newest_given_at timestamptz NOT NULL,
    archived_at     timestamptz NOT NULL DEFAULT now()
);

-- The retention query: feedback given before the cutoff.
CREATE INDEX feedback_given_at ON feedback (given_at);
