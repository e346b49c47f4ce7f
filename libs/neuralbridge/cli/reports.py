"""``nb jobs report [--week YYYY-Www] [--json]``: the trainer's weekly learning report.

The trainer answers ``trainer.query.report``; the CLI only asks and prints.
Exit codes: 0 shown, 1 no trainer answered or no report for that week, 2 a bad
``--week``.
"""

from __future__ import annotations

import json
import sys

import msgspec

from neuralbridge.clients import RemoteError, ServiceUnavailableError
from neuralbridge.clients.jobs import learning_report
from neuralbridge.core.bus import Bus
from neuralbridge.messages.learning import (
    LearningReport,
    MetricChange,
    parse_week,
)

__all__ = ["format_report", "jobs_report"]

_RATES = frozenset(
    {"cache_hit_rate", "fallback_rate", "feedback_rate", "positive_rate", "failed_job_rate"}
)


async def jobs_report(
    bus: Bus, *, week: str | None = None, as_json: bool = False, timeout: float = 10.0
) -> int:
    """Print the learning report of ``week`` (``YYYY-Www``), or the latest one."""
    if week is not None:
        try:
            parse_week(week)
        except ValueError as exc:
            print(f"--week: {exc}", file=sys.stderr)
            return 2
    try:
        reply = await learning_report(bus, week, timeout=timeout)
    except ServiceUnavailableError:
        print("no trainer answered (is it running?)", file=sys.stderr)
        return 1
    except RemoteError as exc:
        print(str(exc), file=sys.stderr)
        return 2 if exc.code == "invalid_request" else 1
    if reply.report is None:
        print(reply.message or "no learning report", file=sys.stderr)
        return 2 if reply.error == "invalid_request" else 1
    if as_json:
        print(json.dumps(msgspec.to_builtins(reply.report), indent=2))
    else:
        print(format_report(reply.report))
    return 0


def _value(name: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if name in _RATES:
        return f"{value * 100:.1f}%"
    return f"{value:g}"


def _change(name: str, change: MetricChange) -> str:
    if change.absolute is None:
        return "n/a"
    absolute = f"{change.absolute * 100:+.1f} pp" if name in _RATES else f"{change.absolute:+g}"
    relative = "n/a" if change.relative is None else f"{change.relative * 100:+.1f}%"
    return f"{absolute} ({relative})"


def format_report(report: LearningReport) -> str:
    """The report as text: one metric a line with its week-over-week change, then the runs."""
    state = "" if report.complete else " (week not over yet)"
    lines = [
        f"learning report {report.week}{state}: {report.week_start} .. {report.week_end}",
        f"generated {report.generated_at}; compared with {report.previous_week}",
        f"  {'metric':26} {'this week':>12} {'previous':>12}  change",
    ]
    for name, change in report.changes.items():
        lines.append(
            f"  {name:26} {_value(name, change.current):>12} "
            f"{_value(name, change.previous):>12}  {_change(name, change)}"
        )
    scores = report.metrics.quality_scores
    lines.append("  quality scores: " + ", ".join(f"{s}={n}" for s, n in scores.items()))
    lines.append(f"job runs ({len(report.runs) + report.runs_omitted}):")
    for job, counts in report.jobs.items():
        lines.append(
            f"  {job:26} runs={counts.runs} completed={counts.completed} "
            f"failed={counts.failed} cancelled={counts.cancelled} other={counts.other}"
        )
    for run in report.runs:
        outcome = run.error_message or (json.dumps(run.results) if run.results else "")
        lines.append(f"  {run.started_at or '-'} {run.job} {run.status} {outcome}".rstrip())
    if report.runs_omitted:
        lines.append(f"  ... {report.runs_omitted} more runs not listed")
    return "\n".join(lines)
