"""Start-up errors no retry can fix: exit 2 at once, one line naming cause and fix, nothing left.

Every scenario runs ``nb serve`` or ``nb up`` as a real process in a session of
its own, so "nothing left running" is checked by looking for any process still
in that session after the exit.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from neuralbridge.core.embedded import EmbeddedNats, free_port
from tests.support.services import service_process
from tests.support.waiting import eventually

#: Variables a developer's shell may hold that would change what the commands do.
UNSET = (
    "NATS_URL", "DATABASE_URL", "QDRANT_URL", "QDRANT_PATH", "BIND_HOST", "PII_HASH_KEY",
    "GATEWAY_AUTH", "GATEWAY_API_KEY_HASHES", "GATEWAY_API_KEYS_FILE", "GATEWAY_PORT",
    "GATEWAY_ADMIN_KEY_HASHES", "GATEWAY_ADMIN_KEYS_FILE", "NATS_USER", "NATS_PASSWORD",
    "NATS_TOKEN", "NATS_CREDS_FILE", "METRICS_PORT",
)  # fmt: skip
#: What the failures must take at most, start-up (imports) included.
FAST = 10.0


class Exit:
    """How a command ended: code, seconds taken, standard error's lines."""

    def __init__(self, code: int, seconds: float, stderr: str) -> None:
        self.code, self.seconds = code, seconds
        self.lines = [line for line in stderr.splitlines() if line.strip()]


def _session_members(session: int) -> list[str]:
    """Command lines of the processes still in ``session`` (a child's own session)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[3]) == session:
            members.append(cmdline)
    return members


def run_nb(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60) -> Exit:
    """Run ``nb <args>`` in a session of its own; assert nothing of it outlives it."""
    full = {k: v for k, v in os.environ.items() if k not in UNSET} | env
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "neuralbridge.cli.main", *args],
        env=full, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        _, stderr = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    seconds = time.monotonic() - started
    assert _session_members(proc.pid) == [], "a child outlived the command"
    return Exit(proc.returncode, seconds, stderr.decode(errors="replace"))


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other program listens on, on 127.0.0.1."""
    with socket.create_server(("127.0.0.1", 0)) as holder:
        yield holder.getsockname()[1]


def _unreachable_nats() -> str:
    """A NATS URL nothing answers: a command that connected would wait 30 s on it."""
    return f"nats://127.0.0.1:{free_port()}"


def _serve_env(**extra: str) -> dict[str, str]:
    base = {"BIND_HOST": "127.0.0.1", "NATS_URL": _unreachable_nats(),
            "PII_HASH_KEY": "k" * 32, "GATEWAY_AUTH": "off", "METRICS_PORT": "0"}  # fmt: skip
    return base | extra


def assert_one_line(result: Exit, *words: str) -> None:
    """Exit 2, fast, one stderr line holding every one of ``words``."""
    assert result.code == 2, result.lines
    assert result.seconds < FAST, result.seconds
    assert len(result.lines) == 1, result.lines
    for word in words:
        assert word in result.lines[0], result.lines[0]


def test_serve_metrics_port_taken_exits_2_with_one_line(taken_port: int, tmp_path: Path) -> None:
    """`nb serve` with METRICS_PORT in use: exit 2, one line naming METRICS_PORT, no connect."""
    result = run_nb(["serve", "scheduler"], _serve_env(METRICS_PORT=str(taken_port)), tmp_path)
    assert_one_line(result, f"METRICS_PORT={taken_port}", "already in use", "free port")


def test_serve_gateway_port_taken_exits_2_with_one_line(taken_port: int, tmp_path: Path) -> None:
    """`nb serve gateway` with GATEWAY_PORT in use: exit 2, one line naming GATEWAY_PORT."""
    result = run_nb(["serve", "gateway"], _serve_env(GATEWAY_PORT=str(taken_port)), tmp_path)
    assert_one_line(result, f"GATEWAY_PORT={taken_port}", "already in use", "free port")


def test_serve_same_port_twice_exits_2_naming_both(tmp_path: Path) -> None:
    """GATEWAY_PORT equal to METRICS_PORT: exit 2 naming both settings."""
    port = str(free_port())
    env = _serve_env(METRICS_PORT=port, GATEWAY_PORT=port)
    assert_one_line(run_nb(["serve", "gateway"], env, tmp_path), "METRICS_PORT", "GATEWAY_PORT")


@pytest.mark.parametrize("service", ["proxy_pipeline", "dataset_transform"])
def test_serve_without_qdrant_setting_exits_2_before_connecting(
    service: str, tmp_path: Path
) -> None:
    """A service that needs Qdrant, with no Qdrant setting: exit 2 before connecting NATS."""
    result = run_nb(["serve", service], _serve_env(), tmp_path)
    assert_one_line(result, service, "QDRANT_URL", "QDRANT_PATH")


def test_serve_qdrant_url_unreachable_exits_2_after_bounded_retries(tmp_path: Path) -> None:
    """QDRANT_URL where nothing answers: exit 2 within 10 s naming QDRANT_URL."""
    env = _serve_env(QDRANT_URL=f"http://127.0.0.1:{free_port()}")
    result = run_nb(["serve", "proxy_pipeline"], env, tmp_path)
    assert_one_line(result, "QDRANT_URL", "no Qdrant server answered")


def test_up_metrics_port_taken_exits_2_starting_nothing(taken_port: int, tmp_path: Path) -> None:
    """`nb up` with METRICS_PORT in use: exit 2, one line; no embedded server was started."""
    env = {"NB_DATA_DIR": str(tmp_path / "data"), "METRICS_PORT": str(taken_port),
           "GATEWAY_PORT": str(free_port())}  # fmt: skip
    result = run_nb(["up"], env, tmp_path)
    assert_one_line(result, f"METRICS_PORT={taken_port}", "already in use")
    assert not (tmp_path / "data" / "postgres").exists()
    assert not (tmp_path / "data" / "nats").exists()


def test_up_gateway_port_taken_exits_2_with_one_line(taken_port: int, tmp_path: Path) -> None:
    """`nb up` with GATEWAY_PORT in use: exit 2, one line naming GATEWAY_PORT."""
    env = {"NB_DATA_DIR": str(tmp_path / "data"), "METRICS_PORT": str(free_port()),
           "GATEWAY_PORT": str(taken_port)}  # fmt: skip
    assert_one_line(run_nb(["up"], env, tmp_path), f"GATEWAY_PORT={taken_port}")


@pytest.mark.slow
async def test_second_process_on_held_qdrant_path_exits_2_naming_qdrant_url(
    private_nats: EmbeddedNats, database_url: str, tmp_path: Path
) -> None:
    """A worker holds QDRANT_PATH; the pipeline started on it exits 2 at once, one line."""
    path = str(tmp_path / "qdrant")
    env = {"NATS_URL": private_nats.url, "DATABASE_URL": database_url, "QDRANT_PATH": path,
           "LOG_LEVEL": "info"}  # fmt: skip
    log = tmp_path / "worker.log"
    with service_process("dataset_transform", env, log) as holder:
        await eventually(lambda: "health_server_started" in log.read_text(), timeout=60)
        result = run_nb(["serve", "proxy_pipeline"], _serve_env(QDRANT_PATH=path), tmp_path)
        assert holder.poll() is None, log.read_text()[-2000:]
    assert_one_line(result, f"QDRANT_PATH={path}", "another process", "QDRANT_URL")


@pytest.mark.slow
def test_up_qdrant_path_held_exits_2_and_stops_embedded_servers(tmp_path: Path) -> None:
    """`nb up` whose Qdrant directory is held: exit 2, error last, NATS and PostgreSQL stopped."""
    data = tmp_path / "data"
    holder = QdrantClient(path=str(data / "qdrant"))  # this test process holds it
    try:
        env = {"NB_DATA_DIR": str(data), "METRICS_PORT": str(free_port()),
               "GATEWAY_PORT": str(free_port()), "NB_PG_FAST": "1"}  # fmt: skip
        result = run_nb(["up"], env, tmp_path, timeout=90)
    finally:
        holder.close()
    assert result.code == 2, result.lines
    assert "QDRANT_PATH=" in result.lines[-1], result.lines
    assert "QDRANT_URL" in result.lines[-1]
    assert not any("Traceback" in line for line in result.lines), result.lines
    assert (data / "postgres" / "PG_VERSION").exists(), "PostgreSQL was never started"


def test_serve_database_unreachable_exits_2_naming_database_url(
    nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    """NATS answers, PostgreSQL does not: exit 2 within 10 s, one line naming DATABASE_URL."""
    database = f"postgresql://nb:secret-pw@127.0.0.1:{free_port()}/nb"
    env = _serve_env(NATS_URL=nats_server.url, LOG_LEVEL="warning", DATABASE_URL=database)
    result = run_nb(["serve", "scheduler"], env, tmp_path)
    assert_one_line(result, "DATABASE_URL", "cannot connect")
    assert "secret-pw" not in result.lines[0]


def test_serve_nats_unreachable_exits_2_within_10_seconds(tmp_path: Path) -> None:
    """No NATS server answers: bounded retries, then exit 2 with one line naming NATS_URL."""
    env = _serve_env(LOG_LEVEL="warning", DATABASE_URL="postgresql://nb@127.0.0.1:1/nb")
    result = run_nb(["serve", "scheduler"], env, tmp_path)
    assert_one_line(result, "NATS_URL")
