"""Per-provider pacing shared by every client in the process."""

from __future__ import annotations

import asyncio

from neuralbridge.embedders import EmbedderSettings
from neuralbridge.embedders.ratelimit import TokenBucket, bucket_for
from tests.embedders.conftest import MakeEmbedder, StartFake


def test_reserve_successive_tokens_spaced_by_rate() -> None:
    """A 10/s bucket hands out slots about 0.1 s apart."""
    bucket = TokenBucket(10.0)

    waits = [bucket.reserve() for _ in range(3)]

    assert waits[0] == 0.0
    assert 0.09 <= waits[1] <= 0.1
    assert 0.19 <= waits[2] <= 0.2


def test_bucket_for_same_provider_and_rate_returns_one_bucket() -> None:
    """Clients of one provider share a bucket; another provider gets its own."""
    assert bucket_for("jina", 7.0) is bucket_for("jina", 7.0)
    assert bucket_for("jina", 7.0) is not bucket_for("voyage", 7.0)


async def test_embed_concurrent_calls_two_clients_stay_under_rate(
    start_fake: StartFake, make_embedder: MakeEmbedder
) -> None:
    """30 concurrent calls from two clients of one provider at 20 rps: no 0.5 s window holds
    more than the bucket allows (1 + 20 * 0.5, plus 2 for network jitter)."""
    first_server = await start_fake("jina")
    second_server = await start_fake("jina")
    paced = EmbedderSettings(requests_per_second=20.0, retry_delay_ms=10)
    clients = [
        make_embedder(
            provider="jina", model="jina-embeddings-v3", base_url=url, settings_override=paced
        )
        for url in (first_server.base_url, second_server.base_url)
    ]

    results = await asyncio.gather(
        *(clients[i % 2].embed([f"t{i}"], kind="query") for i in range(30))
    )

    assert len(results) == 30
    times = sorted(r.at for r in first_server.requests + second_server.requests)
    assert len(times) == 30
    busiest = max(sum(1 for t in times if start <= t < start + 0.5) for start in times)
    assert busiest <= 13
