-- Seed 001's weekly learning report: one row per ISO week (UTC); a re-run of the
-- same week replaces its row (INSERT ... ON CONFLICT (week) DO UPDATE).

CREATE TABLE learning_reports (
    week         text PRIMARY KEY CHECK (week ~ '^[0-9]{4}-W[0-9]{2}$'),
    week_start   timestamptz NOT NULL,
    week_end     timestamptz NOT NULL CHECK (week_end > week_start),
    run_id       uuid,
    generated_at timestamptz NOT NULL,
    report       jsonb NOT NULL
);

CREATE INDEX learning_reports_week_start ON learning_reports (week_start DESC);
