"""Gateway added latency and cache hits, side by side with LiteLLM's proxy, in one run.

    python scripts/bench_gateway.py [--requests 400] [--concurrency 1 50]
                                    [--upstream-latency-ms 50] [--skip-litellm]

Three ways to the same mock OpenAI upstream (scripts/mock_openai_upstream.py,
its own process, a fixed latency before every answer):

* **direct**: ``POST {mock}/v1/chat/completions``, the baseline;
* **NeuralBridge**: the whole embedded stack as ``nb up`` runs it (nats-server,
  PostgreSQL, Qdrant local mode, all five services in one process) with
  ``LLM_PROVIDER=openai`` and ``OPENAI_BASE_URL`` at the mock; requests go to the
  gateway's OpenAI-compatible ``POST /v1/chat/completions`` and travel gateway →
  JetStream → proxy pipeline (guardrails, cache lookup, retrieval, session
  history, LLM call, cache write) → reply inbox → gateway;
* **LiteLLM**: its proxy (``litellm --config``), pinned to ``LITELLM_VERSION`` in
  its own throwaway virtualenv under ``.bench-venv/litellm`` (never a project
  dependency), offline (``LITELLM_OFFLINE_MODE=true``, local cost map), no
  database, one worker, with an ``openai/`` model whose ``api_base`` is the mock.

Every prompt is unique, so the response cache (on, as by default) misses and
every request reaches the upstream. Added latency is a target's percentile
minus the direct percentile at the same concurrency; targets are measured in
interleaved rounds so drift on a shared machine hits all of them alike.
Retrieval: no collection exists, and the query embedder is pointed at the
mock's ``/v1/embeddings`` (no latency) unless ``--rag-embedder local`` keeps
the default local all-MiniLM-L6-v2, so the measured path embeds the query over
HTTP (with ``MAX_EMBEDDER_REQUESTS_PER_SECOND`` raised: the default 10/s would
pace every query), finds no collection and answers ungrounded. Then an exact
cache hit: one request repeated (the pipeline answers from its in-memory LRU;
the mock's request counter proves the upstream was not called), in ``--rounds``
rounds of ``--requests`` each on an idle stack, their p50s printed too. Last, the
pipeline's own stage timings (Prometheus histograms, diffed per phase) show
where ours spends its time, and each server's CPU per request (from /proc; ours
also with its child nats-server and PostgreSQL) shows what a request costs,
which moves less with the machine's noise than latencies do.
Requests come from a lean keep-alive HTTP/1.1 client (:class:`KeepAlive`, one
connection per concurrent worker, the same for every target): aiohttp's client
alone took ~0.4 ms per request on the 2-vCPU machine this was written on. The
cache-hit phase also prints the client floor: the p50 of the same requests to a
server in its own process that answers at once, i.e. the share of a latency
that is the client's and loopback's, not the target's.
``--stack-env NAME=VALUE`` passes extra settings to ``nb up`` for experiments.
Goals: our added latency ≤ 0.5x LiteLLM's; cache-hit p50 ≤ 2 ms. The script
always exits 0 once it has measured; it prints whether goals were met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from neuralbridge.core.embedded import free_port  # noqa: E402

LITELLM_VERSION = "1.82.6"
LITELLM_VENV = ROOT / ".bench-venv" / "litellm"
MODEL = "bench-model"
#: Variables that would point a child at servers other than the ones started here.
_SCRUB = (
    "NATS_URL", "DATABASE_URL", "QDRANT_URL", "QDRANT_PATH", "QDRANT_API_KEY", "NB_ENV_FILE",
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OPENAI_API_KEY", "LLM_PROVIDER", "FALLBACK_PROVIDER",
)  # fmt: skip
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfNa]+)$")


#: Per concurrency: latencies, errors, not-cached answers, upstream calls, CPU s/request
#: (process, process tree), each round's p50.
Hits = dict[int, tuple[list[float], int, int, int, float, float, list[float]]]
#: Added latency (p50, p99) in ms per (target name, concurrency).
Added = dict[tuple[str, int], tuple[float, float]]


@dataclass
class Target:
    """One way to the upstream, and what it measured."""

    name: str
    base_url: str
    model: str
    samples: dict[int, list[float]] = field(default_factory=dict)
    seconds: dict[int, float] = field(default_factory=dict)
    pid: int | None = None
    #: CPU seconds used per level: (the server process itself, its whole process tree).
    cpu: dict[int, tuple[float, float]] = field(default_factory=dict)
    errors: dict[int, int] = field(default_factory=dict)


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _cpu_of(pid: int) -> float:
    """utime + stime of one process in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> tuple[float, float]:
    """CPU seconds of ``pid`` and of ``pid`` plus its descendants (nats-server, postgres...)."""
    if pid is None:
        return 0.0, 0.0
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    tree, frontier = {pid}, [pid]
    while frontier:
        kids = [c for c, p in parents.items() if p in frontier and c not in tree]
        tree.update(kids)
        frontier = kids
    return _cpu_of(pid), sum(_cpu_of(p) for p in tree)


async def settle(targets: list[Target], *, limit: float = 15.0) -> None:
    """Wait until every target's process tree is idle (< 4% of a core over 0.25 s, twice).

    A phase starts on a quiet stack, not in the tail of the previous one's
    background work (query logs being stored, cache rows written, batches acked).
    """
    deadline = time.monotonic() + limit
    quiet = 0
    before = [cpu_seconds(t.pid)[1] for t in targets]
    while quiet < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        now = [cpu_seconds(t.pid)[1] for t in targets]
        busy = max(b - a for a, b in zip(before, now, strict=True))
        quiet = quiet + 1 if busy < 0.01 else 0
        before = now


def child_env(**extra: str) -> dict[str, str]:
    """This environment without pointers to other servers, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    return {**env, **extra}


@contextlib.contextmanager
def child(
    args: list[str], env: dict[str, str], log: Path, cwd: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A long-lived child process, output to ``log``, terminated (then killed) on exit."""
    with log.open("ab") as out:
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


async def wait_until(
    check: Callable[[], Awaitable[bool]], what: str, proc: subprocess.Popen[bytes], log: Path,
    timeout: float = 240.0,
) -> None:  # fmt: skip
    """Poll ``check`` until it is true; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = await asyncio.to_thread(log.read_text, errors="replace")
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{tail[-3000:]}")
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            if await check():
                return
        await asyncio.sleep(0.25)
    raise RuntimeError(f"{what} was not ready after {timeout:.0f} s (log: {log})")


async def answers(session: aiohttp.ClientSession, target: Target) -> bool:
    """Whether ``target`` answers a chat completion with 200."""
    body = chat_body(target, f"warm-up {uuid.uuid4().hex}")
    async with session.post(f"{target.base_url}/chat/completions", json=body) as resp:
        await resp.read()
        return resp.status == 200


def chat_body(target: Target, prompt: str) -> dict[str, Any]:
    """A plain (non-streaming) chat completion request."""
    return {"model": target.model, "messages": [{"role": "user", "content": prompt}]}


class KeepAlive(asyncio.Protocol):
    """A lean HTTP/1.1 client connection: one request at a time, kept alive.

    The load generator. aiohttp's client spends ~0.4 ms of this machine's CPU
    per request; measured here against a server that answers at once, this one
    spends a fraction of that, so a target's latency is mostly the target's.
    Responses need ``Content-Length`` or ``chunked`` framing (every target here
    sends one of the two).
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._transport: asyncio.Transport | None = None

    @classmethod
    async def open(cls, host: str, port: int) -> KeepAlive:
        """A connection to ``host:port``."""
        _, conn = await asyncio.get_running_loop().create_connection(cls, host, port)
        return conn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("the server closed the connection"))

    @property
    def open_(self) -> bool:
        """Whether the connection can take another request."""
        return self._transport is not None and not self._transport.is_closing()

    def data_received(self, data: bytes) -> None:
        self._buf += data
        parsed = self._parse()
        if parsed is not None and self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(parsed)

    def _parse(self) -> tuple[int, bytes] | None:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = bytes(self._buf[:end]).split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body, at = bytearray(), start
            while True:
                eol = self._buf.find(b"\r\n", at)
                if eol < 0:
                    return None
                size = int(bytes(self._buf[at:eol]).split(b";")[0], 16)
                if len(self._buf) < eol + 2 + size + 2:
                    return None
                body += self._buf[eol + 2 : eol + 2 + size]
                at = eol + 2 + size + 2
                if size == 0:
                    del self._buf[:at]
                    return status, bytes(body)
        length = int(headers.get(b"content-length", b"0"))
        if len(self._buf) < start + length:
            return None
        body_bytes = bytes(self._buf[start : start + length])
        del self._buf[: start + length]
        return status, body_bytes

    async def post(self, host: str, path: str, body: bytes) -> tuple[int, bytes]:
        """POST ``body`` (JSON) to ``path``; the status and the response body."""
        if self._transport is None:
            raise ConnectionError("not connected")
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(
            b"POST %s HTTP/1.1\r\nhost: %s\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (path.encode(), host.encode(), len(body), body)
        )
        return await self._waiter

    def close(self) -> None:
        """Close the connection."""
        if self._transport is not None:
            self._transport.close()


async def load(
    target: Target, prompts: list[str], concurrency: int
) -> tuple[list[float], int, list[dict[str, Any]]]:
    """Send ``prompts`` with ``concurrency`` in flight; latencies (ms), errors, bodies.

    Each of the ``concurrency`` workers has its own kept-alive connection.
    """
    latencies: list[float] = []
    bodies: list[dict[str, Any]] = []
    errors = 0
    queue = iter(prompts)
    url = urlsplit(f"{target.base_url}/chat/completions")
    host, port = url.hostname or "127.0.0.1", url.port or 80

    async def worker() -> None:
        nonlocal errors
        conn: KeepAlive | None = None
        for prompt in queue:
            body = json.dumps(chat_body(target, prompt)).encode()
            started = time.perf_counter()
            try:
                if conn is None or not conn.open_:
                    conn = await KeepAlive.open(host, port)
                status, raw = await conn.post(url.netloc, url.path, body)
                data = json.loads(raw)
                ok = status == 200 and bool(data["choices"][0]["message"]["content"])
            except (OSError, KeyError, IndexError, ValueError, TypeError):
                ok, data = False, {}
            elapsed = (time.perf_counter() - started) * 1000
            if ok:
                latencies.append(elapsed)
                bodies.append(data)
            else:
                errors += 1
        if conn is not None:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, bodies


class _Instant(asyncio.Protocol):
    """A server that answers every request at once with a fixed chat completion."""

    BODY = json.dumps({
        "id": "chatcmpl-floor", "object": "chat.completion", "model": MODEL,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "Paris. " * 12}}],
    }).encode()  # fmt: skip
    RESPONSE = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
        % (len(BODY), BODY)
    )

    def __init__(self) -> None:
        self._buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while (end := self._buf.find(b"\r\n\r\n")) >= 0:
            head = bytes(self._buf[:end]).lower()
            length = int(head.split(b"content-length:")[1].split(b"\r\n")[0]) if (
                b"content-length:" in head) else 0  # fmt: skip
            if len(self._buf) < end + 4 + length:
                return
            del self._buf[: end + 4 + length]
            self._transport.write(self.RESPONSE)


async def serve_instant(port: int) -> None:
    """Run the instant server (``--serve-instant``: the client floor's other end)."""
    server = await asyncio.get_running_loop().create_server(_Instant, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


# -- Prometheus scraping (where the pipeline spends its time) -----------------------------


async def scrape(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    """``name{labels}`` → value for every histogram ``_sum``/``_count`` sample."""
    async with session.get(url) as resp:
        text = await resp.text()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and match.group(1).endswith(("_sum", "_count")):
            samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


def stage_means(before: dict[str, float], after: dict[str, float]) -> list[tuple[str, float, int]]:
    """(series, mean ms, count) of the histograms observed between two scrapes."""
    rows = []
    for key, total in after.items():
        if "_sum" not in key:
            continue
        count_key = key.replace("_sum", "_count", 1)
        count = after.get(count_key, 0) - before.get(count_key, 0)
        if count <= 0:
            continue
        mean = (total - before.get(key, 0.0)) / count * 1000
        rows.append((key.replace("_sum", "", 1), mean, int(count)))
    wanted = ("proxy_stage", "proxy_request", "nb_job_duration", "llm_request", "qdrant", "embed")
    return sorted(r for r in rows if any(w in r[0] for w in wanted))


# -- the three targets -------------------------------------------------------------------


def ensure_litellm(log: Path) -> Path:
    """The ``litellm`` CLI of the pinned version in its own virtualenv (created once)."""
    python = LITELLM_VENV / "bin" / "python"
    cli = LITELLM_VENV / "bin" / "litellm"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"]
    if cli.exists():
        found = subprocess.run(probe, capture_output=True, text=True, check=False).stdout.strip()
        if found == LITELLM_VERSION:
            return cli
    print(f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV} ...", flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
    with log.open("ab") as out:
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"litellm[proxy]=={LITELLM_VERSION}"],
            check=True, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return cli


def litellm_config(path: Path, upstream: str) -> None:
    """One ``openai/`` deployment whose ``api_base`` is the mock; nothing else."""
    path.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: {upstream}/v1\n"
        "      api_key: bench-key\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "  drop_params: true\n"
        "  request_timeout: 60\n"
        "general_settings:\n"
        "  disable_spend_logs: true\n"
    )


def stack_env(
    work: Path, upstream: str, gateway_port: int, metrics_port: int, rag: str
) -> dict[str, str]:
    """``nb up``'s environment: embedded servers, the mock as OpenAI and (by default) embedder."""
    env = child_env(
        NB_DATA_DIR=str(work / "nb"), GATEWAY_PORT=str(gateway_port),
        METRICS_PORT=str(metrics_port), BIND_HOST="127.0.0.1", LOG_LEVEL="warning",
        LLM_PROVIDER="openai", OPENAI_BASE_URL=f"{upstream}/v1", OPENAI_DEFAULT_MODEL=MODEL,
        GATEWAY_RATE_LIMIT_PER_MINUTE="0", CACHE_ENABLED="true",
    )  # fmt: skip
    if rag == "mock":
        env.update(
            RAG_EMBEDDER_PROVIDER="openai_compatible", RAG_EMBEDDER_MODEL="mock-embed",
            RAG_EMBEDDER_BASE_URL=f"{upstream}/v1", RAG_EMBEDDER_DIMENSIONS="384",
            # The default (10/s, meant for paid bulk-embedding APIs) would pace every
            # query and cap the whole proxy at 10 requests/s; see docs/benchmarks.md.
            MAX_EMBEDDER_REQUESTS_PER_SECOND="100000",
        )  # fmt: skip
    return env


# -- phases ------------------------------------------------------------------------------


async def added_latency(
    session: aiohttp.ClientSession,
    targets: list[Target],
    args: argparse.Namespace,
    metrics_url: str,
) -> dict[int, list[tuple[str, float, int]]]:
    """Unique prompts through every target, interleaved rounds; pipeline stages per level."""
    stages: dict[int, list[tuple[str, float, int]]] = {}
    for level in args.concurrency:
        per_round = max(1, args.requests // args.rounds)
        await settle(targets)
        for target in targets:  # a short warm-up at this concurrency
            await load(target, prompts(target, "warm", level * 2), level)
        before = await scrape(session, metrics_url)
        for rnd in range(args.rounds):
            for target in targets:
                tag = f"c{level}-r{rnd}"
                cpu = cpu_seconds(target.pid)
                started = time.perf_counter()
                lat, err, _ = await load(target, prompts(target, tag, per_round), level)
                elapsed = time.perf_counter() - started
                target.seconds[level] = target.seconds.get(level, 0.0) + elapsed
                own, tree = (b - a for a, b in zip(cpu, cpu_seconds(target.pid), strict=True))
                was = target.cpu.get(level, (0.0, 0.0))
                target.cpu[level] = (was[0] + own, was[1] + tree)
                target.samples.setdefault(level, []).extend(lat)
                target.errors[level] = target.errors.get(level, 0) + err
        stages[level] = stage_means(before, await scrape(session, metrics_url))
    return stages


def prompts(target: Target, tag: str, count: int) -> list[str]:
    """``count`` distinct questions (the cache never hits them)."""
    run = uuid.uuid4().hex[:8]
    return [
        f"[{target.name} {tag} {run} #{i}] In one sentence, what is the capital of France?"
        for i in range(count)
    ]


async def cache_hits(
    session: aiohttp.ClientSession,
    ours: Target,
    instant: Target,
    upstream: str,
    *,
    requests: int,
    levels: list[int],
    rounds: int,
) -> tuple[Hits, dict[int, float]]:
    """The same request repeated: latencies, errors, not-cached answers, upstream calls.

    ``rounds`` rounds of ``requests`` per level, each on an idle stack (this
    VM's speed drifts over seconds, so one short burst can land in a slow
    spell), each followed by the client floor: the same requests to a server
    that answers at once (the client's and loopback's share of a latency).
    """
    prompt = f"Cache benchmark {uuid.uuid4().hex[:8]}: what is the capital of France?"
    _, err, bodies = await load(ours, [prompt], 1)  # the miss that fills the cache
    if err or not bodies:
        raise RuntimeError("the cache-filling request failed")
    results: Hits = {}
    floors: dict[int, float] = {}
    for level in levels:
        await settle([ours])
        await load(ours, [prompt] * max(50, level * 2), level)  # warm-up
        calls_before = await upstream_calls(session, upstream)
        lat: list[float] = []
        floor: list[float] = []
        per_round: list[float] = []
        errors = missed = 0
        own = tree = 0.0
        for _ in range(rounds):
            await settle([ours])
            cpu = cpu_seconds(ours.pid)
            got, err, bodies = await load(ours, [prompt] * requests, level)
            used = [b - a for a, b in zip(cpu, cpu_seconds(ours.pid), strict=True)]
            own, tree = own + used[0], tree + used[1]
            lat += got
            errors += err
            missed += sum(1 for b in bodies if not b.get("neuralbridge", {}).get("cached"))
            per_round.append(percentile(got, 0.5) if got else float("nan"))
            floor += (await load(instant, [prompt] * requests, level))[0]
        calls = await upstream_calls(session, upstream) - calls_before
        done = requests * rounds
        results[level] = (lat, errors, missed, calls, own / done, tree / done, per_round)
        floors[level] = percentile(floor, 0.5) if floor else float("nan")
    return results, floors


async def upstream_calls(session: aiohttp.ClientSession, upstream: str) -> int:
    """Chat completions the mock has answered so far."""
    async with session.get(f"{upstream}/stats") as resp:
        return int((await resp.json()).get("chat", 0))


# -- report ------------------------------------------------------------------------------


def report_added(targets: list[Target], levels: list[int]) -> Added:
    """Print p50/p99 and the added latency per target; return added (p50, p99) per target."""
    direct = targets[0]
    added: Added = {}
    for level in levels:
        base = direct.samples.get(level) or [0.0]
        b50, b99 = percentile(base, 0.5), percentile(base, 0.99)
        print(f"\nconcurrency {level}: {len(base)} requests per target")
        for t in targets:
            lat = t.samples.get(level) or []
            if not lat:
                print(f"  {t.name:<22} no successful request ({t.errors.get(level, 0)} errors)")
                continue
            p50, p99 = percentile(lat, 0.5), percentile(lat, 0.99)
            rate = len(lat) / t.seconds[level] if t.seconds.get(level) else 0.0
            line = f"  {t.name:<22} {rate:6.1f} req/s  p50 {p50:8.2f} ms  p99 {p99:8.2f} ms"
            if t is not direct:
                added[(t.name, level)] = (p50 - b50, p99 - b99)
                line += f"   added p50 {p50 - b50:7.2f} ms  p99 {p99 - b99:7.2f} ms"
            if t.errors.get(level):
                line += f"   ({t.errors[level]} errors)"
            print(line)
        print("  CPU per request (server process / with its child processes):")
        for t in targets:
            own, tree = t.cpu.get(level, (0.0, 0.0))
            done = len(t.samples.get(level) or []) + t.errors.get(level, 0)
            if t.pid is not None and done:
                print(
                    f"    {t.name:<22} {own / done * 1000:6.2f} ms / {tree / done * 1000:6.2f} ms"
                )
    return added


def report_ratios(
    added: Added,
    ours: str,
    theirs: str | None,
    levels: list[int],
) -> list[str]:
    """Print ours/LiteLLM added-latency ratios; return the goal lines."""
    goals = []
    if theirs is None:
        return ["- added latency ≤ 0.5x LiteLLM's: not measured (--skip-litellm)"]
    print("\nadded latency, ours / LiteLLM (goal <= 0.5x):")
    for level in levels:
        if (ours, level) not in added or (theirs, level) not in added:
            continue
        (o50, o99), (l50, l99) = added[(ours, level)], added[(theirs, level)]
        r50 = o50 / l50 if l50 > 0 else float("inf")
        r99 = o99 / l99 if l99 > 0 else float("inf")
        print(f"  concurrency {level:>3}: p50 {r50:5.2f}x   p99 {r99:5.2f}x")
        met = "met" if r50 <= 0.5 else "NOT met"
        goals.append(
            f"- added latency ≤ 0.5x LiteLLM's at concurrency {level}: {met} "
            f"(p50 {o50:.2f} vs {l50:.2f} ms = {r50:.2f}x; p99 {o99:.2f} vs {l99:.2f} ms "
            f"= {r99:.2f}x)"
        )
    return goals


def report_cache(hits: Hits, floors: dict[int, float]) -> list[str]:
    """Print the cache-hit latencies; return the goal line."""
    goals = []
    print("\nexact cache hit (one request repeated, answered from the in-memory LRU):")
    for level, (lat, err, missed, calls, own, tree, rounds) in hits.items():
        if not lat:
            print(f"  concurrency {level:>3}: no successful request ({err} errors)")
            continue
        p50, p99 = percentile(lat, 0.5), percentile(lat, 0.99)
        print(
            f"  concurrency {level:>3}: p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  ({len(lat)} requests,"
            f" {missed} not cached, {calls} upstream calls, {err} errors)\n"
            f"                   CPU per request {own * 1000:.2f} ms (process), "
            f"{tree * 1000:.2f} ms (with its child processes)\n"
            f"                   rounds' p50s {', '.join(f'{r:.2f}' for r in rounds)} ms\n"
            f"                   client floor p50 {floors[level]:.2f} ms (the same requests "
            f"to a server that answers at once)"
        )
        if level == min(hits):
            met = "met" if p50 <= 2.0 else "NOT met"
            goals.append(
                f"- cache-hit p50 ≤ 2 ms (concurrency {level}): {met} ({p50:.2f} ms; "
                f"client floor {floors[level]:.2f} ms)"
            )
    return goals


def report_stages(stages: dict[int, list[tuple[str, float, int]]], latency_ms: float) -> None:
    """Print the pipeline's mean stage times per concurrency level."""
    print(f"\nNeuralBridge pipeline internals (means over each phase; upstream {latency_ms} ms):")
    for level, rows in stages.items():
        print(f"  concurrency {level}:")
        for series, mean, count in rows:
            print(f"    {series:<70} {mean:8.2f} ms  (n={count})")


# -- main --------------------------------------------------------------------------------


async def run(args: argparse.Namespace, work: Path) -> None:
    """Start the mock, the stack and LiteLLM; measure; print."""
    mock_port, gw_port, metrics_port, llm_port, instant_port = (free_port() for _ in range(5))
    upstream = f"http://127.0.0.1:{mock_port}"
    logs = {n: work / f"{n}.log" for n in ("mock", "stack", "litellm", "pip", "instant")}
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    with contextlib.ExitStack() as procs:
        mock = procs.enter_context(child(
            [sys.executable, str(ROOT / "scripts/mock_openai_upstream.py"), "--port",
             str(mock_port), "--latency-ms", str(args.upstream_latency_ms)],
            child_env(), logs["mock"], work,
        ))  # fmt: skip
        instant_proc = procs.enter_context(child(
            [sys.executable, str(ROOT / "scripts/bench_gateway.py"), "--serve-instant",
             str(instant_port)],
            child_env(), logs["instant"], work,
        ))  # fmt: skip
        stack = procs.enter_context(child(
            [sys.executable, "-m", "neuralbridge.cli.main", "up"],
            {**stack_env(work, upstream, gw_port, metrics_port, args.rag_embedder),
             **dict(kv.split("=", 1) for kv in args.stack_env)},
            logs["stack"], work,
        ))  # fmt: skip
        direct = Target("direct (mock)", f"{upstream}/v1", MODEL, pid=mock.pid)
        ours = Target(
            "NeuralBridge gateway", f"http://127.0.0.1:{gw_port}/v1", "neuralbridge", pid=stack.pid
        )
        targets = [direct, ours]
        instant = Target("instant", f"http://127.0.0.1:{instant_port}/v1", MODEL)
        litellm = None
        if not args.skip_litellm:
            cfg = work / "litellm.yaml"
            litellm_config(cfg, upstream)
            cli = ensure_litellm(logs["pip"])
            litellm = procs.enter_context(child(
                [str(cli), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(llm_port),
                 "--num_workers", "1", "--telemetry", "False"],
                child_env(LITELLM_OFFLINE_MODE="true", LITELLM_LOCAL_MODEL_COST_MAP="True",
                          LITELLM_LOG="ERROR", LITELLM_TELEMETRY="False",
                          DISABLE_SCHEMA_UPDATE="true"),
                logs["litellm"], work,
            ))  # fmt: skip
            targets.append(Target(f"LiteLLM {LITELLM_VERSION}", f"http://127.0.0.1:{llm_port}/v1",
                                  MODEL, pid=litellm.pid))  # fmt: skip
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            await wait_until(lambda: answers(session, direct), "mock upstream", mock, logs["mock"])
            await wait_until(
                lambda: answers(session, instant), "instant server", instant_proc, logs["instant"]
            )
            await wait_until(lambda: answers(session, ours), "nb up", stack, logs["stack"])
            if litellm is not None:
                await wait_until(
                    lambda: answers(session, targets[2]), "litellm", litellm, logs["litellm"]
                )
            print("all targets answer; measuring ...", flush=True)
            metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
            stages = await added_latency(session, targets, args, metrics_url)
            before = await scrape(session, metrics_url)
            hits, floors = await cache_hits(
                session, ours, instant, upstream, requests=args.requests,
                levels=args.concurrency, rounds=args.rounds,
            )  # fmt: skip
            stages_hit = stage_means(before, await scrape(session, metrics_url))
    added = report_added(targets, args.concurrency)
    goals = report_ratios(added, ours.name, targets[2].name if litellm else None, args.concurrency)
    goals += report_cache(hits, floors)
    report_stages(stages, args.upstream_latency_ms)
    print("  cache-hit phase (all levels):")
    for series, mean, count in stages_hit:
        print(f"    {series:<70} {mean:8.2f} ms  (n={count})")
    print("\ngoals:\n" + "\n".join(goals))


def main() -> int:
    """Parse the flags, run everything in a temporary directory, always exit 0 after measuring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests",
        type=int,
        default=400,
        help="requests per target and concurrency level (default 400)",
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--upstream-latency-ms", type=float, default=50.0)
    parser.add_argument(
        "--rounds", type=int, default=4, help="interleaved rounds per level (default 4)"
    )
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument(
        "--rag-embedder",
        choices=("mock", "local"),
        default="mock",
        help="query embedder: the mock's /v1/embeddings or the local model",
    )
    parser.add_argument(
        "--stack-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra variable for nb up, e.g. PROXY_CONCURRENCY=64 (repeatable)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument("--serve-instant", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()  # fmt: skip
    if args.serve_instant:
        asyncio.run(serve_instant(args.serve_instant))
        return 0
    work = Path(tempfile.mkdtemp(prefix="nb-bench-gateway-"))
    print(
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"upstream latency {args.upstream_latency_ms} ms; {args.requests} requests per target "
        f"and level; concurrency {args.concurrency}; query embedder: {args.rag_embedder}; "
        f"extra stack env {args.stack_env or 'none'}; "
        f"work dir {work}",
        flush=True,
    )
    try:
        asyncio.run(run(args, work))
    finally:
        if args.keep:
            print(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
