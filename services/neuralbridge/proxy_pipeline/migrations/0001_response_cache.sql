-- The persistent layer of the response cache: one row per normalized request
-- (sha256 key), holding the redacted answer as JSON; rows past expires_at are
-- misses and are swept by the cache cleanup job.

CREATE TABLE response_cache (
    cache_key   text PRIMARY KEY,
    answer      jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    hits        integer NOT NULL DEFAULT 0
);

CREATE INDEX response_cache_expires_at ON response_cache (expires_at);
