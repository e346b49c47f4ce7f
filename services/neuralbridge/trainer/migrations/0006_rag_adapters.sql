-- RAG training (issue 6): what each answer cited, and the query adapters trained from it.

-- The passages an answer was given, as QueryLogged.sources carried them (without
-- their text): [{"collection", "point_id", "document", "chunk_index", "score"}, ...].
ALTER TABLE query_logs ADD COLUMN sources jsonb NOT NULL DEFAULT '[]';

-- Every trained adapter, per collection: its held-out metrics and its fate.
-- At most one version per collection is active; the pointer the proxy follows
-- is KV rag_adapters (key: collection), the weights object store rag_adapters.
CREATE TABLE rag_adapters (
    collection          text NOT NULL,
    version             integer NOT NULL CHECK (version >= 1),
    run_id              uuid NOT NULL,
    object_name         text NOT NULL,
    sha256              text NOT NULL,
    dimensions          integer NOT NULL CHECK (dimensions >= 1),
    status              text NOT NULL
                        CHECK (status IN ('active', 'rejected', 'rolled_back', 'superseded')),
    reason              text,
    train_pairs         integer NOT NULL,
    heldout_queries     integer NOT NULL,
    config              jsonb NOT NULL DEFAULT '{}',
    metrics_before      jsonb NOT NULL,
    metrics_after       jsonb NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    activated_at        timestamptz,
    deactivated_at      timestamptz,
    PRIMARY KEY (collection, version)
);

-- One candidate per run and collection, so a retried run registers it once.
CREATE UNIQUE INDEX rag_adapters_run ON rag_adapters (run_id, collection);
CREATE UNIQUE INDEX rag_adapters_one_active ON rag_adapters (collection)
    WHERE status = 'active';
