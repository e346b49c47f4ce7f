"""The SRE workflow with the real `nb` command: streams, dlq list/show/replay/purge."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.core.errors import PermanentError
from neuralbridge.core.runner import JobContext
from neuralbridge.core.topology import WorkSpec, declare_work
from tests.support.jobs import Work
from tests.support.running import running
from tests.support.waiting import eventually


async def nb(
    nats: EmbeddedNats, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed `nb` command against the test server (``env`` added)."""
    env = {**os.environ, **(env or {}), "NATS_URL": nats.url}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "neuralbridge.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=60,
    )


async def _fill_dlq(bus: Bus, spec: WorkSpec, uid: str, keys: list[str]) -> None:
    async def reject(job: Work, ctx: JobContext) -> None:
        if job.fail_times:
            raise PermanentError(f"bad input for {job.key}")

    async with running(bus, spec, reject):
        for key in keys:
            await bus.publish(f"t.{uid}.job", Work(key=key, fail_times=1))
        await eventually(lambda: _depth_is(bus, spec.dlq_stream, len(keys)))


async def _depth_is(bus: Bus, stream: str, n: int) -> bool:
    return (await bus.js.stream_info(stream)).state.messages == n


async def test_nb_dlq_list_show_and_streams_describe_failures(
    bus: Bus, nats_server: EmbeddedNats, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """`nb dlq list/show` and `nb streams` report what failed and where."""
    spec = make_work()
    await _fill_dlq(bus, spec, uid, ["a", "b"])
    listed = await nb(nats_server, "dlq", "list", spec.dlq_stream, "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["error"] for r in rows] == ["bad input for a", "bad input for b"]
    assert {r["error_class"] for r in rows} == {"PermanentError"}
    shown = await nb(nats_server, "dlq", "show", spec.dlq_stream, str(rows[0]["seq"]))
    assert shown.returncode == 0, shown.stderr
    assert "X-Dlq-Original-Subject: t." in shown.stdout
    assert '"key":"a"' in shown.stdout
    streams = json.loads((await nb(nats_server, "streams", "--json")).stdout)
    mine = [r for r in streams if r["stream"] == spec.stream]
    assert mine == [
        {"stream": spec.stream, "messages": 0, "consumer": spec.consumer, "pending": 0,
         "ack_pending": 0, "redelivered": 0, "dlq_depth": 2},
    ]  # fmt: skip


async def test_nb_dlq_replay_reprocesses_the_job(
    bus: Bus, nats_server: EmbeddedNats, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """A replayed DLQ message is handled again (here, successfully) and leaves the DLQ."""
    spec = make_work()
    await _fill_dlq(bus, spec, uid, ["x", "y", "z"])
    handled: list[str] = []

    async def fixed(job: Work, ctx: JobContext) -> None:
        handled.append(job.key)

    async with running(bus, spec, fixed):
        first = await nb(nats_server, "dlq", "replay", spec.dlq_stream, "1")
        assert first.returncode == 0, first.stderr
        await eventually(lambda: handled == ["x"])
        rest = await nb(nats_server, "dlq", "replay", spec.dlq_stream, "--all")
        assert rest.returncode == 0, rest.stderr
        await eventually(lambda: sorted(handled) == ["x", "y", "z"])
    assert await _depth_is(bus, spec.dlq_stream, 0)


async def test_nb_dlq_purge_requires_confirmation_then_empties(
    bus: Bus, nats_server: EmbeddedNats, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """Without --yes and no terminal, purge refuses; with --yes the DLQ is empty."""
    spec = make_work()
    await _fill_dlq(bus, spec, uid, ["p", "q"])
    refused = await nb(nats_server, "dlq", "purge", spec.dlq_stream)
    assert refused.returncode == 2
    assert await _depth_is(bus, spec.dlq_stream, 2)
    purged = await nb(nats_server, "dlq", "purge", spec.dlq_stream, "--yes", "--json")
    assert purged.returncode == 0, purged.stderr
    assert json.loads(purged.stdout) == [{"dlq": spec.dlq_stream, "purged": 2}]
    assert await _depth_is(bus, spec.dlq_stream, 0)


async def test_nb_without_nats_url_or_running_stack_says_how_to_fix(tmp_path: Path) -> None:
    """With nothing to talk to, the CLI says so in one line (exit 2)."""
    env = {k: v for k, v in os.environ.items() if k != "NATS_URL"}
    env["NB_DATA_DIR"] = str(tmp_path)
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "neuralbridge.cli.main", "streams"],
        capture_output=True, text=True, env=env, check=False, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: NATS_URL is not set and no embedded stack is running "
        "(start one with `make up`, or set NATS_URL)"
    ]


async def test_nb_dlq_replay_of_masked_key_needs_and_restores_a_credential(
    bus: Bus, nats_server: EmbeddedNats, make_work: Callable[..., WorkSpec], uid: str
) -> None:
    """A copy whose key was masked is replayed only with --credential, which puts it back."""
    spec = make_work()
    await declare_work(bus.js, spec)
    masked = {"embedder": {"provider": "openai", "model": "m", "api_key": "********"}, "n": 1}
    await bus.js.publish(
        spec.dlq_subject, json.dumps(masked).encode(),
        headers={"X-Dlq-Original-Subject": f"t.{uid}.job", "X-Dlq-Redacted": "embedder.api_key"},
    )  # fmt: skip
    refused = await nb(nats_server, "dlq", "replay", spec.dlq_stream, "1")
    env = {"NB_TEST_PROVIDER_KEY": "sk-restored-0123456789"}
    unset = await nb(nats_server, "dlq", "replay", spec.dlq_stream, "1", "--credential", "NOPE")
    done = await nb(
        nats_server, "dlq", "replay", spec.dlq_stream, "1", "--credential",
        "NB_TEST_PROVIDER_KEY", env=env,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "--credential" in refused.stderr
    assert unset.returncode == 2
    assert done.returncode == 0, done.stderr
    assert "sk-restored" not in done.stdout + done.stderr
    replayed = await bus.js.get_last_msg(spec.stream, f"t.{uid}.job")
    body = json.loads(replayed.data or b"")
    assert body == {
        **masked,
        "embedder": {**masked["embedder"], "api_key": env["NB_TEST_PROVIDER_KEY"]},
    }
    assert "X-Dlq-Redacted" not in (replayed.headers or {})
