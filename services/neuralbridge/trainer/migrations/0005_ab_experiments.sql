-- A/B experiments (issue 6): the experiments, and which experiment and variant
-- shaped each logged answer (NULL for answers outside any experiment).

ALTER TABLE query_logs
    ADD COLUMN experiment_id text,
    ADD COLUMN variant       text;

CREATE INDEX query_logs_experiment ON query_logs (experiment_id, variant)
    WHERE experiment_id IS NOT NULL;

CREATE TABLE ab_experiments (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('prompt', 'provider')),
    variants        jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'concluded', 'stopped')),
    winner          text,
    reason          text,
    -- The running always-valid p-value (min over every analysis so far).
    always_valid_p  double precision NOT NULL DEFAULT 1
                    CHECK (always_valid_p >= 0 AND always_valid_p <= 1),
    started_at      timestamptz NOT NULL,
    concluded_at    timestamptz,
    analysed_at     timestamptz,
    last_analysis   jsonb,
    CHECK ((status = 'running') = (concluded_at IS NULL))
);

-- The pipeline applies one experiment at a time: at most one runs.
CREATE UNIQUE INDEX ab_experiments_one_running ON ab_experiments ((status))
    WHERE status = 'running';
