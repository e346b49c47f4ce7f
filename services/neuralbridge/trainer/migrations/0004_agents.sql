-- Agents and their uploaded documents (seed 002: documents -> CSV -> external trainer).
--
-- status: pending (collecting documents) -> queued (documents complete, agent_training
-- enqueued) -> processing (extract, chunk, CSV) -> training (external trainer running)
-- -> completed | failed | cancelled. ``generation`` grows with every training request;
-- a job whose generation is not the agent's current one was superseded and does nothing.

CREATE TABLE agents (
    id                   uuid PRIMARY KEY,
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status               text NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'queued', 'processing', 'training',
                                           'completed', 'failed', 'cancelled')),
    expected_documents   integer CHECK (expected_documents >= 1),
    model_config         jsonb NOT NULL DEFAULT '{}',
    generation           integer NOT NULL DEFAULT 0,
    run_id               uuid,
    progress_percentage  double precision NOT NULL DEFAULT 0
                         CHECK (progress_percentage >= 0 AND progress_percentage <= 100),
    step                 text,
    csv_path             text,
    chunk_count          integer,
    results              jsonb,
    error_message        text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    training_started_at  timestamptz,
    training_finished_at timestamptz
);

CREATE INDEX agents_status ON agents (status);

CREATE TABLE agent_documents (
    id           uuid PRIMARY KEY,
    agent_id     uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    category     text NOT NULL CHECK (category IN ('work_product', 'communication', 'reference')),
    filename     text NOT NULL,
    path         text NOT NULL,
    sha256       text NOT NULL,
    size_bytes   bigint NOT NULL CHECK (size_bytes >= 0),
    uploaded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agent_id, category, filename)
);
