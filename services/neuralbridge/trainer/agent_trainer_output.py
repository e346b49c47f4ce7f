"""What the external agent trainer prints: progress lines and the results object.

The stdout contract is described in :mod:`.agent_trainer_process`; this module
parses it, and holds the errors the trainer's run can end with.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from neuralbridge.trainer.errors import TrainerError

__all__ = [
    "FAILED_STATUSES",
    "AgentTrainerError",
    "AgentTrainerExitError",
    "AgentTrainerOutputError",
    "AgentTrainerTimeoutError",
    "ProgressLine",
    "parse_progress",
    "parse_results",
]

#: A results ``status`` that means the trainer did not produce a model.
FAILED_STATUSES = frozenset({"failed", "error"})
_PROGRESS_WORD = re.compile(r"^PROGRESS\s+(?P<pct>[-+]?\d+(?:\.\d+)?)\s*%?(?:\s+(?P<step>.*))?$")


class AgentTrainerError(TrainerError):
    """The external trainer could not be started or did not produce a model."""


class AgentTrainerExitError(AgentTrainerError):
    """The trainer exited with a non-zero status."""


class AgentTrainerTimeoutError(AgentTrainerError):
    """The trainer ran longer than its time limit and was killed."""


class AgentTrainerOutputError(AgentTrainerError):
    """The trainer exited 0 but its stdout held no usable results JSON."""


class ProgressLine(NamedTuple):
    """A progress report read from the trainer's stdout."""

    percentage: float
    step: str | None


def parse_progress(line: str) -> ProgressLine | None:
    """The progress a stdout line reports, or ``None`` when it is not a progress line.

    Args:
        line: One line of the trainer's stdout, without its line end.
    """
    text = line.strip()
    match = _PROGRESS_WORD.match(text)
    if match:
        return ProgressLine(_clamp(float(match.group("pct"))), match.group("step") or None)
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or "progress" not in value or set(value) - {"progress", "step"}:
        return None
    pct, step = value["progress"], value.get("step")
    if isinstance(pct, bool) or not isinstance(pct, int | float) or not math.isfinite(pct):
        return None
    return ProgressLine(_clamp(float(pct)), str(step) if step is not None else None)


def parse_results(lines: Sequence[str]) -> dict[str, Any]:
    """The results object among the trainer's non-progress stdout lines (the last wins).

    Raises:
        AgentTrainerOutputError: no line (and no pretty-printed block ending the
            output) is a JSON object with a ``status`` key.
    """
    for line in reversed(lines):
        found = _results_object(line)
        if found is not None:
            return found
    opening = [i for i, line in enumerate(lines) if line.rstrip() == "{"]
    if opening:
        found = _results_object("\n".join(lines[opening[-1] :]))
        if found is not None:
            return found
    last = next((line.strip() for line in reversed(lines) if line.strip()), "")
    shown = f"its last line was {last[:200]!r}" if last else "it printed nothing"
    raise AgentTrainerOutputError(
        "the trainer exited 0 but printed no results JSON object with a 'status' key "
        f"on stdout ({shown})"
    )


def _results_object(text: str) -> dict[str, Any] | None:
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "status" in value else None


def _clamp(percentage: float) -> float:
    return min(max(percentage, 0.0), 100.0)
