"""A service as its own process, the way `nb serve <service>` runs in production."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from neuralbridge.core.embedded import free_port


@contextmanager
def service_process(
    service: str, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`nb serve <service>` with ``env``, output appended to ``log``; terminated on exit."""
    full = {**os.environ, **env, "METRICS_PORT": str(free_port()), "BIND_HOST": "127.0.0.1"}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "neuralbridge.cli.main", "serve", service],
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
