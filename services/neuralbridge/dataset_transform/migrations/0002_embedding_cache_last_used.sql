-- Vectors nobody has read for EMBEDDING_CACHE_TTL_DAYS are evicted (cache.evict_unused).
-- A read marks a row used at most once a day, so re-running a dataset writes little.
-- now() is evaluated once here, so the column is added without rewriting the table.

ALTER TABLE embedding_cache ADD COLUMN last_used_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX embedding_cache_last_used_at ON embedding_cache (last_used_at);
