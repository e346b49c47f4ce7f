"""Sticky variant assignment: stable across processes, near the weights, independent."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from neuralbridge.learning.assignment import assign_variant

WEIGHTS = [("control", 0.7), ("treatment", 0.3)]
_SCRIPT = (
    "from neuralbridge.learning.assignment import assign_variant\n"
    "w = [('control', 0.7), ('treatment', 0.3)]\n"
    "print(''.join(assign_variant('exp1', f's{i}', w)[0] for i in range(300)))\n"
)


def _in_process(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                          text=True, check=True, timeout=60)  # fmt: skip
    return done.stdout.strip()


def test_assignment_is_the_same_in_every_process() -> None:
    """Two interpreters with different hash seeds assign 300 sessions identically, as here."""
    here = "".join(assign_variant("exp1", f"s{i}", WEIGHTS)[0] for i in range(300))
    assert _in_process("1") == _in_process("2") == here
    assert set(here) == {"c", "t"}


def test_assignment_is_sticky_per_session() -> None:
    """The same session gets the same variant every time."""
    first = [assign_variant("exp1", f"user-{i}", WEIGHTS) for i in range(100)]
    assert first == [assign_variant("exp1", f"user-{i}", WEIGHTS) for i in range(100)]


def test_assignment_shares_follow_the_weights() -> None:
    """20,000 sessions split 70/30 within one point."""
    counts = Counter(assign_variant("exp1", f"session-{i}", WEIGHTS) for i in range(20_000))
    assert counts["treatment"] / 20_000 == pytest.approx(0.3, abs=0.01)


def test_assignments_of_two_experiments_are_independent() -> None:
    """Among experiment 1's control sessions, experiment 2 still splits 50/50."""
    even = [("a", 1.0), ("b", 1.0)]
    controls = [f"s{i}" for i in range(20_000) if assign_variant("e1", f"s{i}", even) == "a"]
    share = sum(assign_variant("e2", s, even) == "a" for s in controls) / len(controls)
    assert share == pytest.approx(0.5, abs=0.02)


def test_assignment_rejects_no_variants_or_bad_weights() -> None:
    """No variants, or a non-positive weight, is an error saying so."""
    with pytest.raises(ValueError, match="at least one variant"):
        assign_variant("e", "s", [])
    with pytest.raises(ValueError, match="positive"):
        assign_variant("e", "s", [("a", 1.0), ("b", 0.0)])
