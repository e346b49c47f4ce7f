"""Feedback archive files: gzip-compressed JSON Lines, written durably, verified by reading back.

One file per ``feedback_cleanup`` run, ``feedback-<cutoff>-<run id>.jsonl.gz``,
one :class:`ArchivedFeedback` object per line, oldest first. A file is written
to a hidden temporary name, flushed and fsynced, read back (every line must
decode; their number is the count that is reconciled), then renamed into place
and the directory fsynced: after :func:`write_archive` returns, the archive
survives a crash. The name depends only on the run, so a retried run replaces
its own earlier attempt instead of adding a second file.

The directory belongs to the job: files matching the pattern that no committed
archive records (and leftover temporary files) are removed by
:func:`remove_uncommitted` — their rows were never deleted from the table.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import msgspec

__all__ = [
    "ArchiveFile",
    "ArchivedFeedback",
    "archive_name",
    "read_archive",
    "remove_uncommitted",
    "write_archive",
]

_PREFIX = "feedback-"
_SUFFIX = ".jsonl.gz"
_TEMP_SUFFIX = ".tmp"
_ENCODER = msgspec.json.Encoder()


class ArchivedFeedback(msgspec.Struct, frozen=True, kw_only=True):
    """One archived feedback row (a line of the archive), as stored in ``feedback``."""

    request_id: str
    score: int
    comment: str | None
    given_at: datetime
    received_at: datetime


_DECODER = msgspec.json.Decoder(ArchivedFeedback)


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """A durable archive: where it is, how many lines it holds, its size and sha256."""

    path: Path
    lines: int
    bytes: int
    sha256: str


def archive_name(cutoff: datetime, run_id: str) -> str:
    """``feedback-<cutoff, UTC, basic ISO>-<run id>.jsonl.gz``."""
    return f"{_PREFIX}{cutoff.strftime('%Y%m%dT%H%M%SZ')}-{run_id}{_SUFFIX}"


def write_archive(directory: Path, name: str, rows: list[ArchivedFeedback]) -> ArchiveFile:
    """Write ``rows`` to ``directory/name`` durably; the line count is read back from disk."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / name
    temp = directory / f".{name}{_TEMP_SUFFIX}"
    try:
        with temp.open("wb") as raw:
            # mtime=0 and no file name in the header: the same rows give the same bytes.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed:
                for row in rows:
                    packed.write(_ENCODER.encode(row) + b"\n")
            raw.flush()
            os.fsync(raw.fileno())
        lines = len(read_archive(temp))
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_directory(directory)
    data = final.read_bytes()
    return ArchiveFile(
        path=final, lines=lines, bytes=len(data), sha256=hashlib.sha256(data).hexdigest()
    )


def read_archive(path: Path) -> list[ArchivedFeedback]:
    """Every row of an archive file (raises on a corrupt file or line)."""
    with gzip.open(path, "rb") as packed:
        return [_DECODER.decode(line) for line in packed if line.strip()]


def remove_uncommitted(directory: Path, committed: set[str]) -> list[str]:
    """Delete archive files not in ``committed`` and leftover temp files; return their names."""
    if not directory.is_dir():
        return []
    removed = []
    for path in sorted(directory.iterdir()):
        name = path.name
        ours = name.startswith(_PREFIX) and name.endswith(_SUFFIX)
        temporary = name.startswith(f".{_PREFIX}") and name.endswith(_TEMP_SUFFIX)
        if path.is_file() and ((ours and name not in committed) or temporary):
            path.unlink()
            removed.append(name)
    return removed


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
