-- One row per fine_tune job run: the examples it reserved, the upstream job it follows,
-- and what came out (model id, metrics). A redelivered run resumes the upstream job
-- recorded here instead of uploading and paying twice.

CREATE TABLE fine_tune_runs (
    run_id              uuid PRIMARY KEY REFERENCES job_runs (id) ON DELETE CASCADE,
    backend             text NOT NULL,
    base_model          text NOT NULL,
    status              text NOT NULL
                        CHECK (status IN ('uploading', 'validating_files', 'queued', 'running',
                                          'succeeded', 'failed', 'cancelled')),
    request_ids         text[] NOT NULL,
    train_examples      integer NOT NULL CHECK (train_examples >= 0),
    validation_examples integer NOT NULL CHECK (validation_examples >= 0),
    hyperparameters     jsonb NOT NULL,
    upstream_job_id     text,
    training_file_id    text,
    validation_file_id  text,
    fine_tuned_model    text,
    trained_tokens      bigint,
    metrics             jsonb,
    error_message       text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz
);

-- The runs still holding their examples (a concurrent run must not take them too).
CREATE INDEX fine_tune_runs_active ON fine_tune_runs (status)
    WHERE status NOT IN ('succeeded', 'failed', 'cancelled');
