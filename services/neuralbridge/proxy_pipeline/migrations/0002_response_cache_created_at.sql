-- Pipeline replicas read the keys of rows written since their last look
-- (keyfilter.KnownKeys), every second: by created_at, not a table scan.

CREATE INDEX response_cache_created_at ON response_cache (created_at);
