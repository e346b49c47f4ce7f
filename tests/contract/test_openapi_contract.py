"""The OpenAPI document is the contract: schemathesis, every check, against `nb up`.

The whole stack runs as `nb up` does for a user (embedded NATS and PostgreSQL,
Qdrant local mode, the local embedder, the five services), with user and admin
keys and fake OpenAI and Ollama servers for the per-request provider overrides. The
schemathesis CLI (from PyPI) then generates requests for every operation of
``/schema/openapi.json`` and runs all of its checks; any failure fails the test.
``make test`` runs a bounded number of examples per operation; ``make fuzz`` sets
``NB_FUZZ_MAX_EXAMPLES`` and ``NB_FUZZ_MAX_TIME`` for a longer run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.contract.conftest import nb_up
from tests.support.fake_llm import FakeLLMServer
from tests.support.keys import ADMIN_KEY, KEYS

CONFIG = Path(__file__).with_name("schemathesis.toml")
#: Multipart uploads are documented, but a file's name (which decides whether its type is
#: supported) is not part of an OpenAPI schema, so generated uploads are not run.
EXCLUDED = ("/api/datasets/{dataset}/documents",)


@pytest.fixture
async def stack(tmp_path: Path, fakes: tuple[FakeLLMServer, FakeLLMServer]) -> AsyncIterator[str]:
    """`nb up` with user and admin keys, the fakes behind the provider overrides."""
    openai, ollama = fakes
    env = {
        **KEYS, "GATEWAY_RATE_LIMIT_PER_MINUTE": "0",
        "OPENAI_BASE_URL": openai.base_url, "OLLAMA_BASE_URL": ollama.base_url,
    }  # fmt: skip
    async with nb_up(tmp_path, env) as url:
        yield url


def _schemathesis() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("schemathesis is not installed (the project's dev extra: `make setup`)")
    return found


#: ``make test`` bounds the run by examples; ``make fuzz`` by NB_FUZZ_MAX_TIME (plus start-up).
_TIMEOUT = int(os.environ.get("NB_FUZZ_MAX_TIME", "0")) + 420


@pytest.mark.timeout(_TIMEOUT)
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
