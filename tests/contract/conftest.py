"""`nb up` as a user runs it, for tests that judge the whole stack from outside.

:func:`nb_up` starts ``nb up`` in its own data dir on free ports with the given
extra environment, waits until every service is ready, yields the gateway's URL
and stops it (SIGTERM) afterwards. ``fakes`` are an OpenAI and an Ollama server
speaking the real wire formats, for the providers the stack is pointed at.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from neuralbridge.core.embedded import free_port
from tests.gateway.conftest import TEST_PII_HASH_KEY
from tests.support.fake_llm import FakeLLMServer
from tests.support.keys import ADMIN_KEY, KEYS, OTHER_USER_KEY, USER_KEY
from tests.support.waiting import http_status

__all__ = ["ADMIN_KEY", "ANSWER", "KEYS", "OTHER_USER_KEY", "USER_KEY", "nb_up"]

ANSWER = "Acme Rockets was founded in 1990 by Jane Doe."


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeLLMServer, FakeLLMServer]]:
    """An OpenAI and an Ollama fake."""
    openai = await FakeLLMServer("openai", answer=ANSWER).start()
    ollama = await FakeLLMServer("ollama", answer=ANSWER).start()
    yield openai, ollama
    await openai.close()
    await ollama.close()


@asynccontextmanager
async def nb_up(data: Path, env: dict[str, str]) -> AsyncIterator[str]:
    """`nb up` with ``env`` over a clean environment; the gateway's URL once all are ready."""
    metrics, gateway = free_port(), free_port()
    clean = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("NATS_", "DATABASE_", "QDRANT_", "GATEWAY_", "PII_"))
    }  # fmt: skip
    clean |= {
        "NB_DATA_DIR": str(data / "nb"), "METRICS_PORT": str(metrics),
        "GATEWAY_PORT": str(gateway), "BIND_HOST": "127.0.0.1", "NB_PG_FAST": "1",
        "PII_HASH_KEY": TEST_PII_HASH_KEY, "LOG_LEVEL": "warning", "NB_ENV_FILE": os.devnull,
        **env,
    }  # fmt: skip
    log_path = data / "up.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, polled over HTTP
            [sys.executable, "-m", "neuralbridge.cli.main", "up"],
            env=clean, cwd=data, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        for _ in range(900):
            if await asyncio.to_thread(http_status, f"http://127.0.0.1:{metrics}/readyz") == 200:
                break
            assert proc.poll() is None, log_path.read_text()
            await asyncio.sleep(0.1)
        else:
            pytest.fail("nb up did not become ready:\n" + log_path.read_text())
        yield f"http://127.0.0.1:{gateway}"
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 60)
