"""The OpenAPI document is the contract: schemathesis, every check, against `nb up`.

The whole stack runs as `nb up` does for a user (embedded NATS and PostgreSQL,
Qdrant local mode, the local embedder, the five services), with an admin key and
fake OpenAI and Ollama servers for the per-request provider overrides. The
schemathesis CLI (from PyPI) then generates requests for every operation of
``/schema/openapi.json`` and runs all of its checks; any failure fails the test.
``make test`` runs a bounded number of examples per operation; ``make fuzz`` sets
``NB_FUZZ_MAX_EXAMPLES`` and ``NB_FUZZ_MAX_TIME`` for a longer run.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from neuralbridge.core.embedded import free_port
from tests.gateway.conftest import TEST_PII_HASH_KEY
from tests.support.fake_llm import FakeLLMServer

ADMIN_KEY = "nb-contract-admin-key-0123456789"
CONFIG = Path(__file__).with_name("schemathesis.toml")
#: Multipart uploads are documented, but a file's name (which decides whether its type is
#: supported) is not part of an OpenAPI schema, so generated uploads are not run.
EXCLUDED = ("/api/datasets/{dataset}/documents",)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - local test URL
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeLLMServer, FakeLLMServer]]:
    """An OpenAI and an Ollama fake for ``provider`` overrides."""
    openai = await FakeLLMServer("openai", answer="Acme Rockets was founded in 1990.").start()
    ollama = await FakeLLMServer("ollama", answer="Acme Rockets was founded in 1990.").start()
    yield openai, ollama
    await openai.close()
    await ollama.close()


@pytest.fixture
async def stack(tmp_path: Path, fakes: tuple[FakeLLMServer, FakeLLMServer]) -> AsyncIterator[str]:
    """`nb up` with an admin key; yields the gateway's URL once every service is ready."""
    metrics, gateway = free_port(), free_port()
    openai, ollama = fakes
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NATS_", "DATABASE_", "QDRANT_", "GATEWAY_"))
    }
    env |= {
        "NB_DATA_DIR": str(tmp_path / "data"), "METRICS_PORT": str(metrics),
        "GATEWAY_PORT": str(gateway), "BIND_HOST": "127.0.0.1", "NB_PG_FAST": "1",
        "GATEWAY_ADMIN_KEY_HASHES": hashlib.sha256(ADMIN_KEY.encode()).hexdigest(),
        "PII_HASH_KEY": TEST_PII_HASH_KEY, "GATEWAY_RATE_LIMIT_PER_MINUTE": "0",
        "OPENAI_BASE_URL": openai.base_url, "OLLAMA_BASE_URL": ollama.base_url,
        "LOG_LEVEL": "warning", "NB_ENV_FILE": os.devnull,
    }  # fmt: skip
    log = (tmp_path / "up.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, polled over HTTP
        [sys.executable, "-m", "neuralbridge.cli.main", "up"],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        for _ in range(900):
            if await asyncio.to_thread(_status, f"http://127.0.0.1:{metrics}/readyz") == 200:
                break
            assert proc.poll() is None, (tmp_path / "up.log").read_text()
            await asyncio.sleep(0.1)
        else:
            pytest.fail("nb up did not become ready:\n" + (tmp_path / "up.log").read_text())
        yield f"http://127.0.0.1:{gateway}"
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 60)
        log.close()


def _schemathesis() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("schemathesis is not installed (the project's dev extra: `make setup`)")
    return found


@pytest.mark.timeout(420)
async def test_every_operation_keeps_the_documented_contract(stack: str, tmp_path: Path) -> None:
    """Schemathesis with all checks finds no failure in any operation of the document."""
    examples = os.environ.get("NB_FUZZ_MAX_EXAMPLES", "8")
    command = [
        _schemathesis(), "--config-file", str(CONFIG), "run", f"{stack}/schema/openapi.json",
        "--checks", "all", "--max-examples", examples, "--no-color", "--workers", "1",
        "--header", f"Authorization: Bearer {ADMIN_KEY}",
        "--seed", os.environ.get("NB_FUZZ_SEED", "20261205"),
        "--report", "junit", "--report-dir", str(tmp_path / "report"),
        "--generation-database", "none",
    ]  # fmt: skip
    if max_time := os.environ.get("NB_FUZZ_MAX_TIME"):
        command += ["--max-time", max_time]
    for path in EXCLUDED:
        command += ["--exclude-path", path]
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await proc.communicate()
    text = output.decode(errors="replace")
    print(text[-4000:])
    assert proc.returncode == 0, text[-20_000:]
