"""The feedback_cleanup job, end to end: ingested feedback, archived to gzip JSONL, deleted.

The trainer's clock is fixed at ``NOW`` (2026-11-24 02:00:05 UTC); with the
seed's 180 days of retention the cutoff is 2026-05-28 02:00:05 UTC, and only
feedback given strictly before it is archived.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from neuralbridge.core.bus import Bus
from neuralbridge.core.errors import ConfigError
from neuralbridge.core.settings import load_settings
from neuralbridge.core.subjects import feedback_subject
from neuralbridge.messages.training import FeedbackGiven
from neuralbridge.trainer import TrainerSettings
from neuralbridge.trainer.feedback_archive import ArchivedFeedback, read_archive, write_archive
from neuralbridge.trainer.feedback_cleanup import archive_directory, run_feedback_cleanup
from neuralbridge.trainer.runs import RunContext
from neuralbridge.trainer.state import RunBoard
from tests.trainer.helpers import NOW, FakeClock, enqueue, job_request, wait_ingested, wait_run

JOB = "feedback_cleanup"
CUTOFF = NOW - timedelta(days=180)
#: request id → (score, comment, days before NOW it was given)
FEEDBACK = {
    "old-365": (1, "useless", 365),
    "old-200": (5, None, 200),
    "old-181": (4, "ok — merci", 181),  # non-ASCII survives the round trip
    "edge-180": (3, "exactly at the cutoff: kept", 180),
    "new-7": (5, None, 7),
}
OLD = ["old-365", "old-200", "old-181"]  # oldest first, as archived


async def publish_feedback(bus: Bus) -> None:
    """Publish FEEDBACK as the gateway does."""
    for rid, (score, comment, days) in FEEDBACK.items():
        event = FeedbackGiven(
            request_id=rid, score=score, comment=comment, given_at=NOW - timedelta(days=days)
        )
        await bus.publish(feedback_subject(rid), event)


async def stored(db: asyncpg.Pool, ids: list[str]) -> list[ArchivedFeedback]:
    """The rows as the table holds them, in ``ids`` order."""
    rows = await db.fetch(
        "SELECT request_id, score, comment, given_at, received_at FROM feedback"
        " WHERE request_id = ANY($1::text[])",
        ids,
    )
    by_id = {r["request_id"]: ArchivedFeedback(**dict(r)) for r in rows}
    return [by_id[i] for i in ids]


def archives(directory: Path) -> list[str]:
    """Every file name in the archive directory."""
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    """Where this test's trainer archives feedback."""
    return tmp_path / "archive"


@pytest.fixture
def cleanup_settings(trainer_env: dict[str, str], archive_dir: Path) -> TrainerSettings:
    """The settings the trainer under test runs with."""
    return load_settings(TrainerSettings, {**trainer_env, "FEEDBACK_ARCHIVE_DIR": str(archive_dir)})


@pytest.fixture
def cleanup_trainer(trainer: Callable[..., Any], archive_dir: Path) -> Callable[..., Any]:
    """The trainer with FEEDBACK_ARCHIVE_DIR set to this test's directory."""

    def start(**overrides: str) -> Any:
        return trainer(FEEDBACK_ARCHIVE_DIR=str(archive_dir), **overrides)

    return start


async def test_old_feedback_is_archived_then_deleted_and_reads_back_equal(
    cleanup_trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool, archive_dir: Path
) -> None:
    """3 of 5 rows are older than 180 days: the file holds exactly them, the table the rest."""
    archived_before = REGISTRY.get_sample_value("trainer_feedback_archived_total") or 0.0
    async with cleanup_trainer():
        await publish_feedback(client_bus)
        await wait_ingested(db, queries=0, feedback=5)
        old_rows = await stored(db, OLD)
        row = await wait_run(db, await enqueue(client_bus, job_request(JOB, queue="learning")))
        left = sorted(r["request_id"] for r in await db.fetch("SELECT request_id FROM feedback"))
        record = await db.fetchrow("SELECT * FROM feedback_archives")
    assert row["status"] == "completed", row["error_message"]
    name = f"feedback-20260528T020005Z-{row['id']}.jsonl.gz"
    path = archive_dir / name
    data = path.read_bytes()
    assert row["results"] == {
        "archived": 3,
        "path": str(path),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "oldest": (NOW - timedelta(days=365)).isoformat(),
        "newest": (NOW - timedelta(days=181)).isoformat(),
        "cutoff": CUTOFF.isoformat(),
        "retention_days": 180,
    }
    assert read_archive(path) == old_rows
    lines = gzip.decompress(data).decode().splitlines()
    assert [json.loads(line)["request_id"] for line in lines] == OLD
    assert json.loads(lines[2])["comment"] == "ok — merci"
    assert left == ["edge-180", "new-7"]
    assert archives(archive_dir) == [name]
    assert record is not None
    assert (record["row_count"], record["file_name"], record["bytes"]) == (3, name, len(data))
    archived_now = REGISTRY.get_sample_value("trainer_feedback_archived_total") or 0.0
    assert archived_now - archived_before == 3


async def test_second_run_archives_nothing_and_writes_no_file(
    cleanup_trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool, archive_dir: Path
) -> None:
    """Re-running (a new run, same clock) is a no-op: 0 archived, still one file, 2 rows."""
    async with cleanup_trainer():
        await publish_feedback(client_bus)
        await wait_ingested(db, queries=0, feedback=5)
        first = await wait_run(db, await enqueue(client_bus, job_request(JOB, tick=None)))
        second = await wait_run(db, await enqueue(client_bus, job_request(JOB, tick=None)))
        count = await db.fetchval("SELECT count(*) FROM feedback")
        recorded = await db.fetchval("SELECT count(*) FROM feedback_archives")
    assert first["results"]["archived"] == 3
    assert second["status"] == "completed", second["error_message"]
    assert second["results"] == {
        "archived": 0, "path": None, "bytes": 0, "sha256": None, "oldest": None,
        "newest": None, "cutoff": CUTOFF.isoformat(), "retention_days": 180,
    }  # fmt: skip
    assert (count, recorded) == (2, 1)
    assert len(archives(archive_dir)) == 1


async def test_committed_run_delivered_again_returns_its_record_untouched(
    cleanup_trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool,
    cleanup_settings: TrainerSettings, clock: FakeClock,
) -> None:  # fmt: skip
    """The same run id once more (a crash after the commit): same results, nothing changes."""
    async with cleanup_trainer():
        await publish_feedback(client_bus)
        await wait_ingested(db, queries=0, feedback=5)
        row = await wait_run(db, await enqueue(client_bus, job_request(JOB)))
        clock.now = NOW + timedelta(days=400)  # every row would be old now
        board = await RunBoard.open(client_bus)
        again = await run_feedback_cleanup(
            RunContext(run_id=str(row["id"]), request=job_request(JOB), attempt=2, pool=db,
                       bus=client_bus, board=board, settings=cleanup_settings, clock=clock)
        )  # fmt: skip
        count = await db.fetchval("SELECT count(*) FROM feedback")
    assert again == row["results"]
    assert count == 2
    assert len(archives(archive_directory(cleanup_settings))) == 1


async def test_files_of_an_attempt_that_died_before_its_commit_are_replaced(
    cleanup_trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool, archive_dir: Path
) -> None:
    """A dead attempt's file and temp file (rows never deleted) go; the rows are archived once."""
    async with cleanup_trainer():
        await publish_feedback(client_bus)
        await wait_ingested(db, queries=0, feedback=5)
        old_rows = await stored(db, OLD)
        dead = "feedback-20260528T020005Z-00000000-0000-4000-8000-000000000000.jsonl.gz"
        write_archive(archive_dir, dead, old_rows)  # written, then the process died
        (archive_dir / f".{dead}.tmp").write_bytes(b"half a file")
        row = await wait_run(db, await enqueue(client_bus, job_request(JOB)))
    assert row["status"] == "completed", row["error_message"]
    files = archives(archive_dir)
    assert files == [Path(row["results"]["path"]).name]
    assert read_archive(archive_dir / files[0]) == old_rows


async def test_retention_days_setting_moves_the_cutoff(
    cleanup_trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool
) -> None:
    """FEEDBACK_RETENTION_DAYS=7: the 7-day-old row is at the cutoff and kept; 4 archived."""
    async with cleanup_trainer(FEEDBACK_RETENTION_DAYS="7"):
        await publish_feedback(client_bus)
        await wait_ingested(db, queries=0, feedback=5)
        row = await wait_run(db, await enqueue(client_bus, job_request(JOB)))
        left = [r["request_id"] for r in await db.fetch("SELECT request_id FROM feedback")]
    assert (row["results"]["archived"], row["results"]["retention_days"]) == (4, 7)
    assert row["results"]["newest"] == (NOW - timedelta(days=180)).isoformat()
    assert left == ["new-7"]


async def test_unwritable_archive_dir_fails_the_run_and_keeps_every_row(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool, tmp_path: Path
) -> None:
    """FEEDBACK_ARCHIVE_DIR below a regular file: the run fails with the reason, 5 rows stay."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file")
    async with trainer(FEEDBACK_ARCHIVE_DIR=str(blocker / "archive")):
        await publish_feedback(client_bus)
        await wait_ingested(db, queries=0, feedback=5)
        row = await wait_run(db, await enqueue(client_bus, job_request(JOB)), ("pending",))
        count = await db.fetchval("SELECT count(*) FROM feedback")
        recorded = await db.fetchval("SELECT count(*) FROM feedback_archives")
    assert row["error_message"].startswith(
        f"cannot write the feedback archive in {blocker / 'archive'}: "
    )
    assert row["error_message"].endswith("; nothing was deleted")
    assert (count, recorded) == (5, 0)


def test_archive_dir_defaults_under_the_data_dir() -> None:
    """Unset FEEDBACK_ARCHIVE_DIR → <NB_DATA_DIR>/archive/feedback; retention defaults to 180."""
    settings = load_settings(TrainerSettings, {"NB_DATA_DIR": "/srv/nb"})
    assert archive_directory(settings) == Path("/srv/nb/archive/feedback")
    assert settings.feedback_retention_days == 180


def test_retention_of_zero_days_is_a_configuration_error() -> None:
    """FEEDBACK_RETENTION_DAYS=0 stops the service with a line naming the variable."""
    with pytest.raises(ConfigError, match="FEEDBACK_RETENTION_DAYS"):
        load_settings(TrainerSettings, {"FEEDBACK_RETENTION_DAYS": "0"})
