"""Job-runner throughput and enqueue→start latency, side by side with RQ.

    python scripts/bench_bus.py [--jobs 20000] [--concurrency 64] [--rq-workers 2]

Ours: an embedded nats-server (the same binary the project ships), one process
that publishes N no-op jobs (PubAck awaited, 256 in flight) while one JobRunner
consumes them. RQ: the same N no-op jobs enqueued in pipelined batches into the
Redis at REDIS_URL (default redis://127.0.0.1:6379/15) while ``SimpleWorker``
processes (RQ's fastest mode: no fork per job) consume them. Each job carries
its enqueue time; the handler records ``start - enqueue``.

Two phases per system: (1) saturation — publish N as fast as possible while
consuming, report jobs/s (its latencies are mostly backlog wait); (2) a fixed
offered load (--rate jobs/s for --seconds) below both systems' capacity,
report enqueue→start p50/p99 — the latency a job sees when the queue keeps up.
Run on an otherwise idle machine; numbers are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from neuralbridge.core.bus import Bus  # noqa: E402
from neuralbridge.core.embedded import EmbeddedNats  # noqa: E402
from neuralbridge.core.observability import configure_logging  # noqa: E402
from neuralbridge.core.runner import JobContext, JobRunner  # noqa: E402
from neuralbridge.core.schemas import Message  # noqa: E402
from neuralbridge.core.topology import declare_work, work_spec  # noqa: E402


class Noop(Message, frozen=True, kw_only=True):
    enqueued_at: float


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench_ours(
    url: str, jobs: int, concurrency: int, rate: float | None, name: str
) -> tuple[float, list[float]]:
    bus = await Bus.connect(url, name="bench")
    spec = work_spec(name, (f"{name}.jobs",), name, ack_wait=30.0, max_ack_pending=20000)
    await declare_work(bus.js, spec)
    latencies: list[float] = []
    done = asyncio.Event()

    async def handle(job: Noop, ctx: JobContext) -> None:
        latencies.append(time.time() - job.enqueued_at)
        if len(latencies) == jobs:
            done.set()

    runner = JobRunner(bus, spec, Noop, handle, concurrency=concurrency, prefetch=concurrency)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    await asyncio.sleep(0.5)  # consumer declared and pulling
    sem = asyncio.Semaphore(256)

    async def publish_one(i: int) -> None:
        async with sem:
            await bus.publish(f"{name}.jobs", Noop(enqueued_at=time.time()), msg_id=f"b{i}")

    started = time.perf_counter()
    if rate is None:
        await asyncio.gather(*(publish_one(i) for i in range(jobs)))
    else:
        for i in range(jobs):
            await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
            await publish_one(i)
    await asyncio.wait_for(done.wait(), 300)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    await bus.close()
    return jobs / elapsed, latencies


RQ_WORKER = """
import sys, time
from redis import Redis
from rq import Queue, SimpleWorker
sys.path.insert(0, {scripts!r})
conn = Redis.from_url({url!r})
SimpleWorker([Queue("bench", connection=conn)], connection=conn).work(
    burst=False, logging_level="ERROR", with_scheduler=False
)
"""


def bench_rq(
    redis_url: str, jobs: int, workers: int, rate: float | None
) -> tuple[float, list[float]] | None:
    try:
        from redis import Redis
        from rq import Queue

        sys.path.insert(0, str(ROOT / "scripts"))
        from bench_rq_job import noop
    except ImportError:
        print("RQ side skipped: install the bench extra (make bench-bus does)")
        return None
    conn = Redis.from_url(redis_url)
    try:
        conn.ping()
    except Exception as exc:
        print(f"RQ side skipped: Redis not reachable at {redis_url} ({exc})")
        return None
    conn.flushdb()
    queue = Queue("bench", connection=conn)
    code = RQ_WORKER.format(scripts=str(ROOT / "scripts"), url=redis_url)
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(workers)]
    time.sleep(2.0)  # workers registered and waiting
    started = time.perf_counter()
    batch = 500 if rate is None else 1
    for first in range(0, jobs, batch):
        if rate is not None:
            time.sleep(max(0.0, started + first / rate - time.perf_counter()))
        queue.enqueue_many(
            [
                Queue.prepare_data(noop, args=(time.time(),), result_ttl=0)
                for _ in range(min(batch, jobs - first))
            ]
        )
    while int(conn.llen("bench:latency")) < jobs:
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.terminate()
        proc.wait()
    latencies = [float(x) for x in conn.lrange("bench:latency", 0, -1)]
    conn.flushdb()
    return jobs / elapsed, latencies


def report(name: str, rate: float, latencies: list[float]) -> None:
    p50, p99 = percentile(latencies, 0.50) * 1000, percentile(latencies, 0.99) * 1000
    print(f"  {name:<34} {rate:>9,.0f} jobs/s   enqueue→start p50 {p50:8.2f} ms  p99 {p99:8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rq-workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=200.0, help="offered load, phase 2")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of phase 2")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    )
    args = parser.parse_args()
    configure_logging(level="error", fmt="console")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"jobs: {args.jobs}, runner concurrency {args.concurrency}, RQ workers {args.rq_workers}")
    paced = int(args.rate * args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        nats = EmbeddedNats(Path(tmp) / "nats")
        nats.start()
        try:
            ours = asyncio.run(bench_ours(nats.url, args.jobs, args.concurrency, None, "SAT"))
            ours_paced = asyncio.run(
                bench_ours(nats.url, paced, args.concurrency, args.rate, "PACED")
            )
        finally:
            nats.stop()
    theirs = bench_rq(args.redis_url, args.jobs, args.rq_workers, None)
    theirs_paced = bench_rq(args.redis_url, paced, args.rq_workers, args.rate)
    rq_name = f"RQ SimpleWorker ({args.rq_workers} processes)"
    print(f"\n1) saturation: {args.jobs} jobs published as fast as possible while consumed")
    report("NeuralBridge JobRunner (1 process)", *ours)
    if theirs is not None:
        report(rq_name, *theirs)
        print(f"throughput ratio (ours / RQ): {ours[0] / theirs[0]:.1f}x")
    print(f"\n2) offered load {args.rate:.0f} jobs/s for {args.seconds:.0f} s ({paced} jobs)")
    report("NeuralBridge JobRunner (1 process)", *ours_paced)
    if theirs_paced is not None:
        report(rq_name, *theirs_paced)


if __name__ == "__main__":
    main()
