-- Datasets, their items (documents) and chunks; transforms with per-batch
-- progress; the EmbeddedDataset records; the embedding cache.

CREATE TABLE datasets (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dataset_items (
    id              uuid PRIMARY KEY,
    dataset_id      uuid NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    source_file     text NOT NULL,
    document_type   text NOT NULL,
    title           text,
    author          text,
    custom_metadata jsonb NOT NULL DEFAULT '{}',
    sha256          text NOT NULL,
    chunk_count     integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (dataset_id, source_file)
);

CREATE TABLE chunks (
    item_id     uuid NOT NULL REFERENCES dataset_items (id) ON DELETE CASCADE,
    chunk_index integer NOT NULL,
    text        text NOT NULL,
    char_start  integer NOT NULL,
    char_end    integer NOT NULL,
    text_sha256 text NOT NULL,
    PRIMARY KEY (item_id, chunk_index)
);

CREATE TABLE transforms (
    id               uuid PRIMARY KEY,
    dataset_id       uuid NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    collection       text NOT NULL,
    embedder         jsonb NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    total_chunks     integer NOT NULL DEFAULT 0,
    embedded_chunks  integer NOT NULL DEFAULT 0,
    batches_done     integer NOT NULL DEFAULT 0,
    embedder_calls   integer NOT NULL DEFAULT 0,
    error            text,
    attempts         integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);

CREATE TABLE transform_batches (
    transform_id    uuid NOT NULL REFERENCES transforms (id) ON DELETE CASCADE,
    batch_index     integer NOT NULL,
    chunk_count     integer NOT NULL,
    embedded_now    integer NOT NULL,
    from_cache      integer NOT NULL,
    last_item_id    uuid NOT NULL,
    last_chunk      integer NOT NULL,
    completed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (transform_id, batch_index)
);

CREATE TABLE embedded_datasets (
    id            uuid PRIMARY KEY,
    dataset_id    uuid NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    transform_id  uuid NOT NULL UNIQUE REFERENCES transforms (id) ON DELETE CASCADE,
    collection    text NOT NULL,
    embedder      jsonb NOT NULL,
    vector_size   integer NOT NULL,
    distance      text NOT NULL,
    points        integer NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Vectors by (embedder identity, sha256 of the text): re-running an unchanged
-- dataset, or resuming after a crash, embeds nothing twice.
CREATE TABLE embedding_cache (
    embedder_identity text NOT NULL,
    text_sha256       text NOT NULL,
    vector            bytea NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (embedder_identity, text_sha256)
);
