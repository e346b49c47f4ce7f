"""The five services as five processes on a 3-node JetStream cluster, env vars only.

The production shape, end to end: documents are uploaded through the gateway and
ingested by the worker, a transform embeds them into Qdrant (the REST stand-in,
shared by the worker and the pipeline as a Qdrant server would be), a question is
answered with them as sources, feedback is taken, and a trainer job enqueued by
the CLI runs to completion; nothing but NATS connects the processes.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from neuralbridge.core.bus import Bus
from tests.gateway.conftest import TEST_PII_HASH_KEY
from tests.support.cluster import NatsCluster
from tests.support.keys import ADMIN_KEY, KEYS, USER_KEY, bearer
from tests.support.qdrant_server import QdrantStandIn
from tests.support.topology import Topology, separate_services

DOC = """# Acme Rockets

Acme Rockets was founded in 1990 by Jane Doe in Lisbon. It builds small reusable
rockets for research payloads. Its first launch, Bluebird, flew in 1994.
"""


@pytest.fixture
def qdrant(tmp_path: Path) -> Iterator[QdrantStandIn]:
    """A Qdrant endpoint every process shares."""
    with QdrantStandIn(tmp_path / "qdrant") as server:
        yield server


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """A three-node JetStream cluster on loopback."""
    nodes = NatsCluster(tmp_path / "nats")
    nodes.start()
    yield nodes
    nodes.stop()


@pytest.fixture
async def topology(
    tmp_path: Path, cluster: NatsCluster, database_url: str, qdrant: QdrantStandIn
) -> AsyncIterator[Topology]:
    """The five services, each its own process, on the cluster with every stream at R3."""
    env = {
        "NATS_URL": cluster.urls, "NATS_STREAM_REPLICAS": "3",
        "DATABASE_URL": database_url, "QDRANT_URL": qdrant.url,
        "PII_HASH_KEY": TEST_PII_HASH_KEY, **KEYS, "RAG_COLLECTION": "knowledge",
        "RAG_SCORE_THRESHOLD": "0.1", "EMBEDDING_BATCH_SIZE": "16",
    }  # fmt: skip
    async with separate_services(tmp_path / "services", env) as running:
        yield running


async def _poll(http: httpx.AsyncClient, path: str, until: set[str], timeout: float = 120) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        resp = await http.get(path, headers=bearer(ADMIN_KEY))
        if resp.status_code == 200 and resp.json()["status"] in until:
            return resp.json()
        assert asyncio.get_running_loop().time() < deadline, resp.text
        await asyncio.sleep(0.3)


async def _feedback(http: httpx.AsyncClient, request_id: str) -> httpx.Response:
    """Score the answer once its query log is stored (404 until then)."""
    body = {"request_id": request_id, "score": 5}
    for _ in range(100):
        resp = await http.post("/api/feedback", json=body, headers=bearer(USER_KEY))
        if resp.status_code != 404:
            return resp
        await asyncio.sleep(0.1)
    return resp


def _nb(nats_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NATS_URL": nats_url, "NB_ENV_FILE": os.devnull}
    return subprocess.run(
        [sys.executable, "-m", "neuralbridge.cli.main", *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.timeout(400)
async def test_ingest_transform_answer_feedback_and_a_job_across_processes(
    topology: Topology, cluster: NatsCluster
) -> None:
    """Every step of the user's path works with the services in separate processes."""
    async with httpx.AsyncClient(base_url=topology.gateway_url, timeout=60) as http:
        resp = await http.post(
            "/api/datasets/handbook/documents", headers=bearer(ADMIN_KEY),
            files=[("files", ("acme.md", DOC.encode(), "text/markdown"))],
        )  # fmt: skip
        assert resp.status_code == 202, resp.text
        upload = await _poll(
            http, f"/api/uploads/{resp.json()[0]['upload_id']}", {"done", "failed"}
        )
        assert upload["status"] == "done", upload
        resp = await http.post(
            "/api/transforms", headers=bearer(ADMIN_KEY),
            json={"dataset": "handbook", "collection": "knowledge"},
        )  # fmt: skip
        assert resp.status_code == 202, resp.text
        done = await _poll(
            http, f"/api/transforms/{resp.json()['transform_id']}", {"completed", "failed"}
        )
        assert done["status"] == "completed", done
        assert done["points"] == upload["chunks"]

        question = {"query": "Who founded Acme Rockets?", "session_id": "s-1"}
        answer = await http.post("/api/proxy/query", json=question, headers=bearer(USER_KEY))
        assert answer.status_code == 200, answer.text + topology.outputs()
        body = answer.json()
        assert body["sources"], body
        assert body["sources"][0]["document"] == "acme.md"
        assert "Jane Doe" in body["answer"]
        stats = await http.get("/api/proxy/stats", headers=bearer(USER_KEY))
        assert stats.status_code == 200, stats.text
        assert (stats.json()["replicas"], stats.json()["requests_total"]) == (1, 1)
        feedback = await _feedback(http, body["request_id"])
        assert feedback.status_code == 200, feedback.text
        enqueued = await asyncio.to_thread(
            _nb, cluster.urls, "jobs", "run", "training_dataset_analysis"
        )
        assert enqueued.returncode == 0, enqueued.stderr
        run_id = enqueued.stdout.strip().splitlines()[-1]
        run = await _poll(http, f"/api/jobs/{run_id}", {"completed", "failed", "cancelled"})
        # One question is too little to analyse: the trainer ran it and says so.
        assert run["status"] == "cancelled", run
        assert "insufficient data" in run["error_message"]


async def test_every_stream_bucket_and_store_has_three_replicas(
    topology: Topology, cluster: NatsCluster
) -> None:
    """With NATS_STREAM_REPLICAS=3, what the five services declared is replicated on 3 nodes."""
    bus = await Bus.connect(cluster.urls, name="replica-check")
    try:  # every /readyz said ready: each service has declared all it needs
        infos = await bus.js.streams_info()
    finally:
        await bus.close()
    replicas = {info.config.name: info.config.num_replicas for info in infos}
    print(f"{len(replicas)} streams, KV buckets and object stores")
    expected = {
        "DATASET_TRANSFORMS", "DLQ_DATASET_TRANSFORMS", "DATASET_EVENTS", "PROXY_REQUESTS",
        "QUERY_LOGS", "FEEDBACK", "KV_proxy_sessions", "KV_trainer_runs", "OBJ_dataset_uploads",
    }  # fmt: skip
    assert expected <= set(replicas), sorted(replicas)
    assert {name for name, count in replicas.items() if count != 3} == set()
