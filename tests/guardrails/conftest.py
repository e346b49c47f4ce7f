"""Keep Hypothesis's example database and caches out of the working tree.

Hypothesis writes to ``./.hypothesis`` as soon as the test modules are
imported, so the redirect happens when this conftest loads and the directory
is removed when pytest finishes.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

_HYPOTHESIS_HOME = Path(tempfile.mkdtemp(prefix="nb-hypothesis-guardrails-"))
set_hypothesis_home_dir(_HYPOTHESIS_HOME)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Delete the temporary Hypothesis directory."""
    del config
    set_hypothesis_home_dir(None)
    shutil.rmtree(_HYPOTHESIS_HOME, ignore_errors=True)
