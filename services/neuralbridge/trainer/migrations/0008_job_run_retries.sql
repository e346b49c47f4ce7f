-- Retrying a run by hand (`nb jobs retry <run id>`, POST /api/jobs/{run_id}/retry)
-- enqueues the same job, queue, config and time limit again: the time limit is
-- kept with the run, and the new run names the run it retries (one retry each).
-- Runs recorded before this migration have no time limit stored; a retry of one
-- uses the trainer's RETRY_DEFAULT_TIMEOUT (queries.py).

ALTER TABLE job_runs
    ADD COLUMN timeout_seconds double precision CHECK (timeout_seconds > 0),
    ADD COLUMN retry_of uuid REFERENCES job_runs (id);

CREATE UNIQUE INDEX job_runs_retry_of ON job_runs (retry_of) WHERE retry_of IS NOT NULL;
