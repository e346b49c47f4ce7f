"""Where a running ``nb up`` records its servers' URLs for the other ``nb`` commands."""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["endpoints_file", "read_endpoints", "write_endpoints"]


def endpoints_file(data_dir: Path) -> Path:
    """Where ``nb up`` records the URLs of its embedded servers for other commands."""
    return data_dir / "endpoints.json"


def write_endpoints(data_dir: Path, endpoints: dict[str, str]) -> None:
    """Record the running stack's URLs (read by ``nb streams``/``nb dlq``)."""
    endpoints_file(data_dir).write_text(json.dumps({**endpoints, "pid": os.getpid()}))


def read_endpoints(data_dir: Path) -> dict[str, str] | None:
    """The URLs of a running ``nb up`` in ``data_dir``, or ``None``."""
    path = endpoints_file(data_dir)
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    try:
        os.kill(int(data.get("pid", 0)), 0)
    except (ProcessLookupError, ValueError, PermissionError):
        return None
    return {k: str(v) for k, v in data.items() if k != "pid"}
