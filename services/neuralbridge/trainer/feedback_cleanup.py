"""Seed 001's cleanup: the weekly ``feedback_cleanup`` job.

Feedback given more than ``FEEDBACK_RETENTION_DAYS`` (seed 001: 180) before
the run's clock is archived to one gzip JSON Lines file per run under
``FEEDBACK_ARCHIVE_DIR`` (:mod:`.feedback_archive`) and then deleted. Only
``feedback`` is archived (seed 001 names nothing else); query logs stay.

One PostgreSQL transaction, serialised between runs by an advisory lock:

1. remove archive files no committed run recorded (an earlier attempt that died
   before its commit: its rows are still in the table);
2. select the old rows ``FOR UPDATE`` (an update of one of them waits for us);
3. write the file durably (temp + fsync + rename) and read its lines back;
4. delete exactly the selected rows by key;
5. record the archive in ``feedback_archives`` (run id unique) and commit.

Selected, written and deleted counts must be equal, or the run fails, the
transaction rolls back (every row stays) and the file is removed; as a cleanup
job it is retried. A redelivered run whose archive was committed returns the
recorded results without touching anything; a run that finds nothing old
writes no file. Archives live on the trainer's local disk: with several
trainer replicas, point ``FEEDBACK_ARCHIVE_DIR`` at shared storage.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from neuralbridge.trainer import metrics as m
from neuralbridge.trainer.errors import TrainerError
from neuralbridge.trainer.feedback_archive import (
    ArchivedFeedback,
    ArchiveFile,
    archive_name,
    remove_uncommitted,
    write_archive,
)
from neuralbridge.trainer.runs import RunContext
from neuralbridge.trainer.settings import TrainerSettings

if TYPE_CHECKING:
    from neuralbridge.core.db import Connection

__all__ = ["FeedbackArchiveError", "archive_directory", "run_feedback_cleanup"]

log = structlog.get_logger()

_LOCK = "nb-trainer:feedback_cleanup"


class FeedbackArchiveError(TrainerError):
    """The archive could not be written, or the counts differ: nothing was deleted."""


def archive_directory(settings: TrainerSettings) -> Path:
    """``FEEDBACK_ARCHIVE_DIR``, else ``<NB_DATA_DIR>/archive/feedback``."""
    if settings.feedback_archive_dir:
        return Path(settings.feedback_archive_dir)
    return Path(settings.nb_data_dir) / "archive" / "feedback"


async def run_feedback_cleanup(run: RunContext) -> dict[str, Any]:
    """The ``feedback_cleanup`` job (see the module docstring)."""
    directory = archive_directory(run.settings).absolute()
    retention = run.settings.feedback_retention_days
    cutoff = run.clock() - timedelta(days=retention)
    async with run.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", _LOCK)
        recorded = await _recorded(conn, run.run_id)
        if recorded is not None:
            log.info("feedback_archive_already_committed", path=recorded["path"])
            return recorded
        records = await conn.fetch("SELECT file_name FROM feedback_archives")
        committed = {r["file_name"] for r in records}
        removed = await asyncio.to_thread(remove_uncommitted, directory, committed)
        if removed:
            log.warning("feedback_archive_uncommitted_removed", files=removed)
        rows = await _select(conn, cutoff)
        await run.progress(20.0, "selected")
        if not rows:
            log.info("feedback_cleanup_nothing_to_archive", cutoff=cutoff.isoformat())
            return _results(cutoff, retention, rows, None)
        archive = await _archive_and_delete(run, conn, directory, cutoff, rows)
    m.FEEDBACK_ARCHIVED.inc(len(rows))
    log.info("feedback_archived", archived=len(rows), path=str(archive.path),
             bytes=archive.bytes)  # fmt: skip
    return _results(cutoff, retention, rows, archive)


async def _archive_and_delete(
    run: RunContext, conn: Connection, directory: Path, cutoff: datetime,
    rows: list[ArchivedFeedback],
) -> ArchiveFile:  # fmt: skip
    """Write the file, reconcile, delete, record: all inside the caller's transaction."""
    name = archive_name(cutoff, run.run_id)
    try:
        archive = await asyncio.to_thread(write_archive, directory, name, rows)
    except OSError as exc:
        raise FeedbackArchiveError(
            f"cannot write the feedback archive in {directory}: {exc}; nothing was deleted"
        ) from exc
    try:
        await run.progress(60.0, "archived")
        _reconcile(len(rows), "lines written", archive.lines)
        status = await conn.execute(
            "DELETE FROM feedback WHERE request_id = ANY($1::text[])",
            [row.request_id for row in rows],
        )
        _reconcile(len(rows), "rows deleted", int(status.rsplit(" ", 1)[-1]))
        await conn.execute(
            """
            INSERT INTO feedback_archives (run_id, file_name, path, cutoff, retention_days,
                row_count, bytes, sha256, oldest_given_at, newest_given_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            """,
            run.run_id, name, str(archive.path), cutoff, run.settings.feedback_retention_days,
            len(rows), archive.bytes, archive.sha256, rows[0].given_at, rows[-1].given_at,
        )  # fmt: skip
        await run.progress(90.0, "deleted")
    except BaseException:
        archive.path.unlink(missing_ok=True)  # not committed: the rows stay in the table
        raise
    return archive


def _reconcile(selected: int, what: str, count: int) -> None:
    if count != selected:
        raise FeedbackArchiveError(
            f"feedback archive counts do not reconcile: {selected} rows selected, "
            f"{count} {what}; nothing was deleted"
        )


async def _select(conn: Connection, cutoff: datetime) -> list[ArchivedFeedback]:
    records = await conn.fetch(
        "SELECT request_id, score, comment, given_at, received_at FROM feedback"
        " WHERE given_at < $1 ORDER BY given_at, request_id FOR UPDATE",
        cutoff,
    )
    return [ArchivedFeedback(**dict(r)) for r in records]


async def _recorded(conn: Connection, run_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM feedback_archives WHERE run_id = $1", run_id)
    if row is None:
        return None
    return {
        "archived": int(row["row_count"]),
        "path": row["path"],
        "bytes": int(row["bytes"]),
        "sha256": row["sha256"],
        "oldest": row["oldest_given_at"].isoformat(),
        "newest": row["newest_given_at"].isoformat(),
        "cutoff": row["cutoff"].isoformat(),
        "retention_days": int(row["retention_days"]),
    }


def _results(
    cutoff: datetime, retention: int, rows: list[ArchivedFeedback], archive: ArchiveFile | None
) -> dict[str, Any]:
    return {
        "archived": len(rows),
        "path": str(archive.path) if archive else None,
        "bytes": archive.bytes if archive else 0,
        "sha256": archive.sha256 if archive else None,
        "oldest": rows[0].given_at.isoformat() if rows else None,
        "newest": rows[-1].given_at.isoformat() if rows else None,
        "cutoff": cutoff.isoformat(),
        "retention_days": retention,
    }
