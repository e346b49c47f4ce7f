"""The agent training pipeline (seed 002): documents → 512/50 CSV → external trainer → status.

The external trainer is a real Python script each test writes (run with
``PYTHON_PATH`` = this interpreter, as the seed runs ``train_model_wrapper.py``);
agents and documents go through the real ``nb agents`` request/reply and the
``agent_uploads`` object store.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from neuralbridge.cli.agents import ask, run_agents, upload_files
from neuralbridge.cli.main import build_parser
from neuralbridge.cli.trainer import jobs_cancel
from neuralbridge.core.bus import Bus
from neuralbridge.documents import CHUNK_CSV_COLUMNS
from neuralbridge.messages.agents import AgentCreate, AgentRef, AgentState
from neuralbridge.trainer.agent_trainer_process import (
    AgentTrainerOutputError,
    TrainerCommand,
    parse_progress,
    parse_results,
    run_trainer,
)
from tests.support.waiting import eventually
from tests.trainer.helpers import wait_run

#: 60 five-character words: exactly 300 characters, one sentence.
SENTENCE_A = " ".join(f"A{i:03d}" for i in range(60)) + "."
SENTENCE_B = " ".join(f"B{i:03d}" for i in range(60)) + "."
DOCUMENT = f"{SENTENCE_A} {SENTENCE_B}"  # 601 characters

PRELUDE = """\
import json, os, pathlib, subprocess, sys, time
payload = json.loads(pathlib.Path(sys.argv[1]).read_text())
here = pathlib.Path(__file__).parent
(here / "payload_seen.json").write_text(json.dumps(payload))
(here / "trainer.pid").write_text(str(os.getpid()))
def say(line):
    print(line, flush=True)
def spawn_grandchild():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    (here / "grandchild.pid").write_text(str(child.pid))
"""

SUCCESS = """\
import csv
with open(payload["csv_path"], newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
say("PROGRESS 25 loading")
say("Cerebros: searching architectures ...")
say(json.dumps({"progress": 75, "step": "search"}))
say(json.dumps({"status": "success", "output_dir": str(here / "model"), "chunk_count": len(rows),
                "model_config": payload["model_config"], "timestamp": "2026-11-24T02:10:00Z"}))
"""


def write_trainer(tmp_path: Path, body: str) -> Path:
    """The external trainer script: the common prelude, then ``body``."""
    folder = tmp_path / "cerebros"
    folder.mkdir(exist_ok=True)
    script = folder / "train_model_wrapper.py"
    script.write_text(PRELUDE + body)
    return script


def trainer_env(tmp_path: Path, script: Path, **extra: str) -> dict[str, str]:
    """Overrides for the trainer fixture: agents under tmp_path, the script as trainer."""
    return {
        "AGENTS_DIR": str(tmp_path / "agents"),
        "AGENT_TRAINER_SCRIPT": str(script),
        "PYTHON_PATH": sys.executable,
        **extra,
    }


async def start_agent(bus: Bus, tmp_path: Path, *, config: dict[str, Any] | None = None) -> str:
    """Create an agent expecting one document and upload it; return the enqueued run id."""
    created = await ask(
        bus, "create", AgentCreate(name="Ana", expected_documents=1, model_config=config or {})
    )
    assert created.error is None, created.error
    assert created.agent is not None
    assert created.agent.status == "pending"
    doc = tmp_path / "notes.txt"
    doc.write_text(DOCUMENT, encoding="utf-8")
    (reply,) = await upload_files(bus, created.agent.agent_id, [doc])
    assert reply.error is None, reply.error
    assert reply.enqueued_run_id is not None
    return reply.enqueued_run_id


async def agent_status(bus: Bus, db: asyncpg.Pool, run_id: str) -> AgentState:
    """The agent trained by ``run_id``, as ``nb agents status`` gets it."""
    agent_id = await db.fetchval("SELECT id FROM agents WHERE run_id = $1::uuid", run_id)
    reply = await ask(bus, "status", AgentRef(agent_id=str(agent_id)))
    assert reply.agent is not None, reply.error
    return reply.agent


def pid_alive(pid_file: Path) -> bool:
    """Whether the process in ``pid_file`` still runs (a zombie counts as dead)."""
    assert pid_file.exists(), f"the trainer never wrote {pid_file.name}"
    stat = Path(f"/proc/{int(pid_file.read_text())}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


async def test_documents_complete_train_and_store_results(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Last expected upload → CSV (512/50) in processed/, seed payload, results on the agent."""
    script = write_trainer(tmp_path, SUCCESS)
    async with trainer(**trainer_env(tmp_path, script)):
        run_id = await start_agent(client_bus, tmp_path, config={"epochs": 2, "lr": 0.001})
        row = await wait_run(db, run_id)
        agent = await agent_status(client_bus, db, run_id)
        args = build_parser().parse_args(["agents", "status", agent.agent_id, "--json"])
        assert await run_agents(client_bus, args) == 0
    assert row["status"] == "completed", row["error_message"]
    agent_dir = tmp_path / "agents" / agent.agent_id
    csv_path = agent_dir / "processed" / "training_data_20261124T020005Z.csv"
    expected_results = {
        "status": "success", "output_dir": str(script.parent / "model"), "chunk_count": 2,
        "model_config": {"epochs": 2, "lr": 0.001}, "timestamp": "2026-11-24T02:10:00Z",
    }  # fmt: skip
    assert (agent.status, agent.progress_percentage) == ("completed", 100.0)
    assert (agent.results, agent.csv_path, agent.chunk_count) == (
        expected_results, str(csv_path), 2,
    )  # fmt: skip
    assert row["results"]["trainer_results"] == expected_results
    assert (agent_dir / "reference" / "notes.txt").read_text(encoding="utf-8") == DOCUMENT
    assert json.loads((script.parent / "payload_seen.json").read_text()) == {
        "agent_id": agent.agent_id, "agent_name": "Ana", "csv_path": str(csv_path),
        "model_config": {"epochs": 2, "lr": 0.001},
    }  # fmt: skip
    with csv_path.open(newline="", encoding="utf-8") as f:
        header, *rows = list(csv.reader(f))
    assert tuple(header) == CHUNK_CSV_COLUMNS
    document_id = rows[0][0]
    second = " ".join(f"A{i:03d}" for i in range(50, 60)) + ". " + SENTENCE_B
    assert rows == [
        [document_id, "reference", "notes.txt", "0", SENTENCE_A, "", "", "0", "300"],
        [document_id, "reference", "notes.txt", "1", second, "", "", "250", "601"],
    ]
    shown = json.loads(capsys.readouterr().out)
    assert shown["agent"]["status"] == "completed"


async def test_non_zero_exit_fails_agent_with_stderr_tail(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool, tmp_path: Path
) -> None:
    """Exit status 3: run and agent failed, the reason names the status and stderr; no retry."""
    body = 'sys.stderr.write("loading data\\nCUDA error: out of memory\\n")\nsys.exit(3)\n'
    script = write_trainer(tmp_path, body)
    async with trainer(**trainer_env(tmp_path, script)):
        run_id = await start_agent(client_bus, tmp_path)
        row = await wait_run(db, run_id)
        agent = await agent_status(client_bus, db, run_id)
    expected = "the trainer exited with status 3; stderr: loading data\nCUDA error: out of memory"
    assert (row["status"], row["error_message"], row["attempt"]) == ("failed", expected, 1)
    assert (agent.status, agent.error_message) == ("failed", expected)


async def test_trainer_past_its_timeout_is_killed_with_its_children(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool, tmp_path: Path
) -> None:
    """AGENT_TRAINER_TIMEOUT_SECONDS=3: the process group is killed, the agent failed."""
    body = 'spawn_grandchild()\nsay("PROGRESS 10 warming up")\ntime.sleep(120)\n'
    script = write_trainer(tmp_path, body)
    env = trainer_env(tmp_path, script, AGENT_TRAINER_TIMEOUT_SECONDS="3")
    async with trainer(**env):
        run_id = await start_agent(client_bus, tmp_path)
        row = await wait_run(db, run_id)
        agent = await agent_status(client_bus, db, run_id)
    expected = "the trainer ran longer than its 3s time limit and was killed"
    assert (row["status"], row["error_message"]) == ("failed", expected)
    assert (agent.status, agent.error_message) == ("failed", expected)
    assert not pid_alive(script.parent / "trainer.pid")
    assert not pid_alive(script.parent / "grandchild.pid")


async def test_exit_zero_without_results_json_is_a_clear_failure(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool, tmp_path: Path
) -> None:
    """Garbage on stdout and exit 0: failed, naming the missing results object."""
    script = write_trainer(tmp_path, 'say("hello")\nsay("{not json")\n')
    async with trainer(**trainer_env(tmp_path, script)):
        row = await wait_run(db, await start_agent(client_bus, tmp_path))
    assert row["status"] == "failed"
    assert row["error_message"] == (
        "the trainer exited 0 but printed no results JSON object with a 'status' key on "
        "stdout (its last line was '{not json')"
    )


async def test_cancel_kills_running_trainer_and_marks_agent_cancelled(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool, tmp_path: Path
) -> None:
    """``nb jobs cancel <run id>`` while the trainer sleeps: group killed, agent cancelled."""
    body = 'spawn_grandchild()\nsay("PROGRESS 30 epoch-1")\ntime.sleep(120)\n'
    script = write_trainer(tmp_path, body)
    async with trainer(**trainer_env(tmp_path, script)):
        run_id = await start_agent(client_bus, tmp_path)

        async def training() -> bool:
            agent = await agent_status(client_bus, db, run_id)
            return agent.status == "training" and agent.step == "training: epoch-1"

        await eventually(training, timeout=20)
        assert pid_alive(script.parent / "grandchild.pid")
        assert await jobs_cancel(client_bus, run_id, reason="operator stopped it") == 0
        row = await wait_run(db, run_id)
        agent = await agent_status(client_bus, db, run_id)
    assert (row["status"], row["error_message"]) == ("cancelled", "operator stopped it")
    assert (agent.status, agent.error_message) == ("cancelled", "operator stopped it")
    assert not pid_alive(script.parent / "trainer.pid")
    assert not pid_alive(script.parent / "grandchild.pid")


async def test_progress_never_goes_backwards_when_trainer_reports_lower(
    trainer: Callable[..., Any], client_bus: Bus, db: asyncpg.Pool, tmp_path: Path
) -> None:
    """60 then 20 then 40: run and agent stay at 10 + 0.9 x 60 = 64 % with the newest step."""
    body = (
        'say("PROGRESS 60 epoch-2")\nsay("PROGRESS 20 epoch-3")\n'
        'say(json.dumps({"progress": 40, "step": "epoch-4"}))\n'
        'while not (here / "go").exists():\n    time.sleep(0.05)\n'
        'say(json.dumps({"status": "success"}))\n'
    )  # fmt: skip
    script = write_trainer(tmp_path, body)
    async with trainer(**trainer_env(tmp_path, script)):
        run_id = await start_agent(client_bus, tmp_path)

        async def at_epoch_4() -> bool:
            step = await db.fetchval("SELECT step FROM job_runs WHERE id = $1::uuid", run_id)
            return bool(step == "training: epoch-4")

        await eventually(at_epoch_4, timeout=20)
        progress = await db.fetchval(
            "SELECT progress_percentage FROM job_runs WHERE id = $1::uuid", run_id
        )
        agent = await agent_status(client_bus, db, run_id)
        (script.parent / "go").touch()
        row = await wait_run(db, run_id)
    assert progress == pytest.approx(64.0)
    assert agent.progress_percentage == pytest.approx(64.0)
    assert agent.step == "training: epoch-4"
    assert (row["status"], row["progress_percentage"]) == ("completed", 100.0)


async def test_run_trainer_forwards_only_rising_progress(tmp_path: Path) -> None:
    """The process runner itself: 10, 60, 20, 40, 90 on stdout → 10, 60, 90 reported."""
    script = write_trainer(
        tmp_path,
        "for p in (10, 60, 20, 40, 90):\n    say(f'PROGRESS {p}')\n"
        'say(json.dumps({"status": "success", "chunk_count": 0}))\n',
    )
    payload = tmp_path / "payload.json"
    payload.write_text("{}")
    seen: list[float] = []

    async def on_progress(percentage: float, step: str | None) -> None:
        seen.append(percentage)

    async def never_cancelled() -> None:
        await asyncio.sleep(0)

    results = await run_trainer(
        TrainerCommand(argv=(sys.executable, str(script)), timeout=30), payload,
        on_progress=on_progress, check_cancelled=never_cancelled,
    )  # fmt: skip
    assert results == {"status": "success", "chunk_count": 0}
    assert seen == [10.0, 60.0, 90.0]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("PROGRESS 42", (42.0, None)),
        ("PROGRESS 12.5% epoch 3 of 9", (12.5, "epoch 3 of 9")),
        ('{"progress": 42, "step": "search"}', (42.0, "search")),
        ("PROGRESS 140", (100.0, None)),
        ('{"progress": -3}', (0.0, None)),
        ('{"progress": 42, "status": "success"}', None),  # results, not progress
        ('{"progress": true}', None),
        ("progress at 42", None),
        ("{broken", None),
    ],
)
def test_parse_progress_contract(line: str, expected: tuple[float, str | None] | None) -> None:
    """Both progress forms, clamped to 0-100; anything else is not progress."""
    assert parse_progress(line) == expected


def test_parse_results_takes_last_object_or_a_pretty_printed_tail() -> None:
    """The last one-line results wins; a pretty-printed object ending stdout counts too."""
    assert parse_results(['{"status": "a"}', "log", '{"status": "b"}', "done"]) == {"status": "b"}
    assert parse_results(["log", "{", '  "status": "success",', '  "chunk_count": 2', "}"]) == {
        "status": "success", "chunk_count": 2,
    }  # fmt: skip
    with pytest.raises(AgentTrainerOutputError, match="it printed nothing"):
        parse_results([])


async def test_upload_refuses_unsupported_files_and_unknown_agents(
    trainer: Callable[..., Any], client_bus: Bus, tmp_path: Path
) -> None:
    """A .exe is refused naming the file and the formats; an unknown agent is named."""
    script = write_trainer(tmp_path, SUCCESS)
    bad = tmp_path / "setup.exe"
    bad.write_bytes(b"MZ")
    good = tmp_path / "ok.txt"
    good.write_text("Some text.")
    async with trainer(**trainer_env(tmp_path, script)):
        created = await ask(client_bus, "create", AgentCreate(name="Bia", expected_documents=2))
        assert created.agent is not None
        (refused,) = await upload_files(client_bus, created.agent.agent_id, [bad])
        unknown = "00000000-0000-4000-8000-000000000000"
        (missing,) = await upload_files(client_bus, unknown, [good])
        status = await ask(client_bus, "status", AgentRef(agent_id=created.agent.agent_id))
    assert refused.error is not None
    assert refused.error.startswith("setup.exe: '.exe' files are not supported; use one of")
    assert missing.error == f"no agent {unknown}"
    assert status.agent is not None
    assert (status.agent.status, status.agent.documents) == ("pending", [])
