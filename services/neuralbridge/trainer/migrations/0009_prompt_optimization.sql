-- Prompt optimization (seed 001, issue 6): agent executions, learning examples, reviewed runs.
--
-- An agent's system prompt is agents.model_config->>'system_prompt' (set with
-- ``nb agents create --config system_prompt=...``); no new agents column is needed.

-- Executions reported on AGENT_EXECUTIONS (id chosen by the reporter: a repeated
-- report updates the feedback instead of counting twice).
CREATE TABLE agent_executions (
    id              uuid PRIMARY KEY,
    agent_id        uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    input           text NOT NULL,
    output          text NOT NULL,
    executed_at     timestamptz NOT NULL,
    feedback_score  smallint CHECK (feedback_score BETWEEN 1 AND 5),
    received_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX agent_executions_agent_time ON agent_executions (agent_id, executed_at);

-- Candidate (input, expected output) pairs; an execution with feedback >= 4 proposes
-- one (pending); a person approves or rejects it (nb learning examples ...).
-- quality_score: the feedback score scaled to 0..1.
CREATE TABLE learning_examples (
    id               uuid PRIMARY KEY,
    agent_id         uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    execution_id     uuid UNIQUE REFERENCES agent_executions (id) ON DELETE SET NULL,
    input            text NOT NULL,
    expected_output  text NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'approved', 'rejected')),
    quality_score    double precision CHECK (quality_score >= 0 AND quality_score <= 1),
    created_at       timestamptz NOT NULL DEFAULT now(),
    reviewed_at      timestamptz
);

CREATE INDEX learning_examples_agent_status ON learning_examples (agent_id, status, created_at);

-- One row per (run, agent): the baseline and every variant scored on the held-out
-- set, and the proposal (or why none) — for review; nothing here is activated.
CREATE TABLE prompt_optimization_runs (
    run_id            uuid NOT NULL,
    agent_id          uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    baseline_prompt   text NOT NULL,
    baseline_score    double precision NOT NULL,
    variants          jsonb NOT NULL,
    proposed_variant  text CHECK (proposed_variant IN
                                  ('clarified', 'few_shot', 'restructured', 'combined')),
    proposed_prompt   text,
    reason            text NOT NULL,
    status            text NOT NULL CHECK (status IN ('pending_review', 'no_proposal')),
    pool_examples     integer NOT NULL,
    test_examples     integer NOT NULL,
    model             text NOT NULL,
    config            jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, agent_id)
);

CREATE INDEX prompt_optimization_runs_agent ON prompt_optimization_runs (agent_id, created_at);
