-- The trainer's tables: job runs (one row per run, updated on every attempt),
-- the query logs and feedback it ingests from QUERY_LOGS and FEEDBACK.

CREATE TABLE job_runs (
    id                  uuid PRIMARY KEY,
    job                 text NOT NULL,
    queue               text NOT NULL,
    trigger             text NOT NULL,
    tick                text,
    status              text NOT NULL
                        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    progress_percentage double precision NOT NULL DEFAULT 0
                        CHECK (progress_percentage >= 0 AND progress_percentage <= 100),
    step                text,
    config              jsonb NOT NULL DEFAULT '{}',
    results             jsonb,
    error_message       text,
    attempt             integer NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz
);

-- One run per scheduled tick of a job.
CREATE UNIQUE INDEX job_runs_job_tick ON job_runs (job, tick) WHERE tick IS NOT NULL;
CREATE INDEX job_runs_status ON job_runs (status, finished_at);

-- Progress never goes backwards, whoever writes it.
CREATE FUNCTION job_runs_monotonic_progress() RETURNS trigger AS $$
BEGIN
    NEW.progress_percentage := GREATEST(NEW.progress_percentage, OLD.progress_percentage);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER job_runs_monotonic_progress
    BEFORE UPDATE OF progress_percentage ON job_runs
    FOR EACH ROW EXECUTE FUNCTION job_runs_monotonic_progress();

CREATE TABLE query_logs (
    request_id          text PRIMARY KEY,
    session_id          text NOT NULL,
    query               text NOT NULL,
    answer              text NOT NULL,
    provider            text NOT NULL,
    model               text NOT NULL,
    confidence          double precision NOT NULL,
    fallback_used       boolean NOT NULL,
    fallback_reason     text,
    cached              boolean NOT NULL,
    latency_ms          double precision NOT NULL,
    logged_at           timestamptz NOT NULL,
    used_for_training   boolean NOT NULL DEFAULT false,
    received_at         timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX query_logs_logged_at ON query_logs (logged_at);

CREATE TABLE feedback (
    request_id  text PRIMARY KEY,
    score       smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment     text,
    given_at    timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
