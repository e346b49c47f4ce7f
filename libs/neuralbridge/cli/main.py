"""Entry point of ``nb`` / ``neuralbridge``: parse arguments, dispatch, map errors to exit codes.

Exit codes: 0 success, 1 failure, 2 bad usage or configuration (one line on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
from nats.js.errors import NotFoundError

from neuralbridge.cli import ab, admin, agents, datasets, jobs, learning, reports, trainer
from neuralbridge.cli.registry import SERVICE_NAMES
from neuralbridge.core.bus import Bus
from neuralbridge.core.errors import NeuralBridgeError
from neuralbridge.core.observability import configure_logging
from neuralbridge.embedders import EmbedderProfile

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="nb", description="NeuralBridge command line")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="run the whole system on its embedded default, in one process")
    serve = sub.add_parser("serve", help="run one service against configured servers")
    serve.add_argument("service", choices=SERVICE_NAMES)
    streams = sub.add_parser("streams", help="messages, pending, ack-pending, redelivered, DLQ")
    streams.add_argument("--json", action="store_true", help="machine-readable output")

    dlq = sub.add_parser("dlq", help="inspect, replay and purge dead-letter streams")
    dsub = dlq.add_subparsers(dest="dlq_command", required=True)
    d_list = dsub.add_parser("list", help="DLQ streams, or the messages of one")
    d_list.add_argument("stream", nargs="?")
    d_show = dsub.add_parser("show", help="headers and body of one DLQ message")
    d_show.add_argument("stream")
    d_show.add_argument("seq", type=int)
    d_replay = dsub.add_parser("replay", help="re-publish to the original subject")
    d_replay.add_argument("stream")
    d_replay.add_argument("seqs", nargs="*", help="sequence numbers and/or one range A-B")
    d_replay.add_argument("--all", action="store_true", help="replay every message")
    d_replay.add_argument("--keep", action="store_true", help="keep the DLQ copies")
    d_replay.add_argument(
        "--credential", metavar="VARIABLE",
        help="environment variable whose value goes back into a copy whose key was masked",
    )  # fmt: skip
    d_purge = dsub.add_parser("purge", help="delete every message of a DLQ stream")
    d_purge.add_argument("stream")
    d_purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    for p in (d_list, d_show, d_replay, d_purge):
        p.add_argument("--json", action="store_true", help="machine-readable output")
    _add_dataset_commands(sub)
    _add_job_commands(sub)
    agents.add_agent_commands(sub)
    ab.add_ab_commands(sub)
    learning.add_learning_commands(sub)
    return parser


def _add_job_commands(sub: Any) -> None:
    sched = sub.add_parser("scheduler", help="the schedules of seeds 000/001")
    ssub = sched.add_subparsers(dest="scheduler_command", required=True)
    ssub.add_parser("setup", help="declare queues and state; list what runs when")
    status = ssub.add_parser("status", help="next and last run, last outcome, per job")
    status.add_argument("--json", action="store_true")
    run = ssub.add_parser("run", help="enqueue one run of a job now")
    run.add_argument("job", help="e.g. prompt_optimization, rag_training, ab_test_analysis")
    run.add_argument("--config", action="append", default=[], metavar="KEY=VALUE")
    jobs = sub.add_parser("jobs", help="background jobs")
    jsub = jobs.add_subparsers(dest="jobs_command", required=True)
    jrun = jsub.add_parser("run", help="run a job now (seed 001: optimize_prompts, train_rag, "
                           "analyze_tests, cleanup, report, any schedule name, or fine_tune, "
                           "distillation, agent_training)")  # fmt: skip
    jrun.add_argument("job")
    jrun.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                      help="job config, e.g. --config dataset_limit=200 (repeatable)")  # fmt: skip
    jstats = jsub.add_parser("stats", help="runs by status, per-queue performance, failures")
    jstats.add_argument("--json", action="store_true")
    jcancel = jsub.add_parser("cancel", help="stop a running job at its next progress step")
    jcancel.add_argument("run_id")
    jcancel.add_argument("--reason", default="cancelled from the command line")
    _add_job_monitoring_commands(jsub)
    jreport = jsub.add_parser("report", help="the weekly learning report (latest, or --week)")
    jreport.add_argument("--week", help="ISO week YYYY-Www (default: the latest report)")
    jreport.add_argument("--json", action="store_true")


def _add_job_monitoring_commands(jsub: Any) -> None:
    jwatch = jsub.add_parser("watch", help="live progress of a run until it ends "
                             "(exit 0 when it completed, 1 otherwise)")  # fmt: skip
    jwatch.add_argument("run_id")
    jwatch.add_argument("--json", action="store_true", help="each state as a JSON line")
    jwatch.add_argument("--timeout", type=float, default=86400.0, help="seconds to wait")
    jfailed = jsub.add_parser("failed", help="failed runs with their error, newest first")
    jfailed.add_argument("--limit", type=int, default=20, help="at most this many (1-1000)")
    jfailed.add_argument("--json", action="store_true")
    jretry = jsub.add_parser("retry", help="re-enqueue a failed or cancelled run (new run id)")
    jretry.add_argument("run_id")
    jretry.add_argument("--json", action="store_true")


def _add_dataset_commands(sub: Any) -> None:
    ing = sub.add_parser("ingest", help="extract, chunk and store documents into a dataset")
    ing.add_argument("paths", nargs="+", help="files or directories (.txt .md .html .pdf .docx)")
    ing.add_argument("--dataset", required=True)
    ing.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                     help="custom metadata for every file (repeatable)")  # fmt: skip
    ing.add_argument("--chunk-size", type=int, help="default INGEST_CHUNK_SIZE (512)")
    ing.add_argument("--chunk-overlap", type=int, help="default INGEST_CHUNK_OVERLAP (50)")
    ing.add_argument("--chunk-unit", choices=("chars", "tokens"), default="chars")
    ing.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for results")

    tr = sub.add_parser("transforms", help="embed datasets into Qdrant collections")
    tsub = tr.add_subparsers(dest="transforms_command", required=True)
    create = tsub.add_parser("create", help="start a transform (prints its id)")
    create.add_argument("--dataset", required=True)
    create.add_argument("--collection", required=True)
    create.add_argument("--profile", help="a profile the worker configures "
                        "(EMBEDDER_PROFILES_FILE, or a provider; default local)")  # fmt: skip
    create.add_argument("--provider", help="that provider's default profile (openai, cohere, "
                        "jina, voyage, ollama, local); with --model, a full profile")  # fmt: skip
    create.add_argument("--model", help="a full profile's model (needs --provider)")
    create.add_argument("--base-url", help="a full profile's API root (needs --provider)")
    create.add_argument("--dimensions", type=int)
    create.add_argument("--credential", help="NAME of the env var holding the API key")
    create.add_argument("--document", help="only this source file (seed 000 EmbedJob)")
    create.add_argument("--chunk", type=int, help="only this chunk of --document")
    create.add_argument("--switch-alias", help="point this alias at the collection when done")
    create.add_argument("--watch", action="store_true", help="then show a live progress bar")
    create.add_argument("--timeout", type=float, default=3600.0)
    status = tsub.add_parser("status", help="a transform's live state")
    status.add_argument("transform_id")
    status.add_argument("--json", action="store_true")
    tlist = tsub.add_parser("list", help="every transform, newest first")
    tlist.add_argument("--json", action="store_true")
    watch = tsub.add_parser("watch", help="live progress bar until done")
    watch.add_argument("transform_id")
    watch.add_argument("--timeout", type=float, default=3600.0)

    ds = sub.add_parser("datasets", help="list datasets, export chunks as CSV")
    dsub = ds.add_subparsers(dest="datasets_command", required=True)
    dlist = dsub.add_parser("list", help="datasets with item and chunk counts")
    dlist.add_argument("--json", action="store_true")
    export = dsub.add_parser("export", help="a dataset's chunks as CSV (seed 002 columns)")
    export.add_argument("dataset")
    export.add_argument("-o", "--output", required=True, type=Path)


def _dispatch(args: argparse.Namespace) -> int:
    from neuralbridge.cli import stack

    if args.command == "up":
        return stack.run_up()
    if args.command == "serve":
        return stack.run_serve(args.service)
    configure_logging(level="warning", fmt="console")
    if args.command == "streams":
        return asyncio.run(admin.with_bus(lambda bus: admin.streams(bus, as_json=args.json)))
    if args.command in ("scheduler", "jobs"):
        return asyncio.run(admin.with_bus(lambda bus: _jobs(bus, args)))
    if args.command in ("ingest", "transforms", "datasets"):
        return asyncio.run(admin.with_bus(lambda bus: _datasets(bus, args)))
    handler = {"agents": agents.run_agents, "ab": ab.run_ab, "learning": learning.run_learning}.get(
        args.command, _dlq
    )
    return asyncio.run(admin.with_bus(lambda bus: handler(bus, args)))


async def _jobs(bus: Bus, args: argparse.Namespace) -> int:
    if args.command == "jobs" and args.jobs_command in ("stats", "cancel", "watch", "failed",
                                                        "retry"):  # fmt: skip
        return await _job_monitoring(bus, args)
    if args.command == "jobs" and args.jobs_command == "report":
        return await reports.jobs_report(bus, week=args.week, as_json=args.json)
    if args.command == "jobs" or args.scheduler_command == "run":
        return await jobs.scheduler_run(bus, args.job, config=args.config)
    if args.scheduler_command == "setup":
        return await jobs.scheduler_setup(bus)
    return await jobs.scheduler_status(bus, as_json=args.json)


async def _job_monitoring(bus: Bus, args: argparse.Namespace) -> int:
    if args.jobs_command == "stats":
        return await trainer.jobs_stats(bus, as_json=args.json)
    if args.jobs_command == "cancel":
        return await trainer.jobs_cancel(bus, args.run_id, reason=args.reason)
    if args.jobs_command == "watch":
        return await jobs.jobs_watch(bus, args.run_id, as_json=args.json, timeout=args.timeout)
    if args.jobs_command == "failed":
        return await jobs.jobs_failed(bus, limit=args.limit, as_json=args.json)
    return await jobs.jobs_retry(bus, args.run_id, as_json=args.json)


async def _datasets(bus: Bus, args: argparse.Namespace) -> int:
    if args.command == "ingest":
        metadata = dict(item.split("=", 1) for item in args.meta if "=" in item)
        return await datasets.ingest(
            bus, args.paths, dataset=args.dataset, metadata=metadata, chunk_size=args.chunk_size,
            chunk_overlap=args.chunk_overlap, chunk_unit=args.chunk_unit, timeout=args.timeout,
        )  # fmt: skip
    if args.command == "datasets":
        if args.datasets_command == "list":
            return await datasets.datasets_list(bus, as_json=args.json)
        return await datasets.datasets_export(bus, args.dataset, args.output)
    return await _transforms(bus, args)


async def _transforms(bus: Bus, args: argparse.Namespace) -> int:
    match args.transforms_command:
        case "create":
            return await _create_transform(bus, args)
        case "status":
            return await datasets.transforms_status(bus, args.transform_id, as_json=args.json)
        case "list":
            return await datasets.transforms_list(bus, as_json=args.json)
        case _:
            return await datasets.transforms_watch(bus, args.transform_id, timeout=args.timeout)


def _transform_embedder(args: argparse.Namespace) -> str | EmbedderProfile:
    """A profile name (``--profile``, or ``--provider`` alone), or a full profile."""
    details = (args.model, args.base_url, args.dimensions, args.credential)
    if args.profile:
        if args.provider or any(d is not None for d in details):
            raise SystemExit("error: --profile takes no --provider, --model, --base-url, ...")
        return str(args.profile)
    if all(d is None for d in details):
        return str(args.provider or "local")
    if not args.provider or not args.model:
        raise SystemExit("error: a full embedder profile needs --provider and --model")
    try:
        return msgspec.convert(
            {"provider": args.provider, "model": args.model, "base_url": args.base_url,
             "dimensions": args.dimensions, "credential": args.credential},
            EmbedderProfile,
        )  # fmt: skip
    except msgspec.ValidationError as exc:
        raise SystemExit(f"error: invalid embedder profile: {exc}") from None


async def _create_transform(bus: Bus, args: argparse.Namespace) -> int:
    embedder = _transform_embedder(args)
    transform_id = await datasets.transforms_create(
        bus, dataset=args.dataset, collection=args.collection, embedder=embedder,
        source_file=args.document, chunk_index=args.chunk, switch_alias=args.switch_alias,
    )  # fmt: skip
    print(transform_id)
    if args.watch:
        return await datasets.transforms_watch(bus, transform_id, timeout=args.timeout)
    return 0


async def _dlq(bus: Bus, args: argparse.Namespace) -> int:
    match args.dlq_command:
        case "list":
            return await admin.dlq_list(bus, args.stream, as_json=args.json)
        case "show":
            return await admin.dlq_show(bus, args.stream, args.seq, as_json=args.json)
        case "replay":
            return await admin.dlq_replay(
                bus, args.stream, args.seqs, all_=args.all, keep=args.keep, as_json=args.json,
                credential=args.credential,
            )  # fmt: skip
        case _:
            return await admin.dlq_purge(bus, args.stream, yes=args.yes, as_json=args.json)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except NeuralBridgeError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except NotFoundError:
        print("not found: no such stream or message", file=sys.stderr)
        return 1
    except msgspec.ValidationError as exc:
        print(f"invalid arguments: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
