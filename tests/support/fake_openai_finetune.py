"""A fake of OpenAI's files + fine-tuning API: a local aiohttp server speaking its wire format.

Routes (under ``/v1``): ``POST /files`` (multipart ``purpose`` + ``file``),
``POST /fine_tuning/jobs``, ``GET /fine_tuning/jobs/{id}``,
``GET /fine_tuning/jobs/{id}/events`` (newest first, ``limit`` and ``after``
paging, ``has_more``) and ``POST /fine_tuning/jobs/{id}/cancel``. Objects are
the real shapes (``file``, ``fine_tuning.job``, ``fine_tuning.job.event``,
``list``); errors are ``{"error": {"message", "type", "param", "code"}}``;
unknown jobs answer 404, unknown request fields 400, a wrong key 401.

A job moves one status per ``GET`` of the job (so tests never wait on a
clock): ``validating_files`` (where the files are really parsed: a training
file with fewer than 10 chats, or a bad line, fails the job the way OpenAI
does) → ``queued`` → ``running``, where each read adds ``steps_per_poll``
steps and a ``metrics`` event (``step``, ``total_steps``, ``train_loss``,
``valid_loss``...) → ``succeeded`` with ``fine_tuned_model`` and
``trained_tokens``, or ``failed`` at ``fail_at_step`` with ``failure``.
``hold_at_step`` keeps a job running at that step (to cancel it mid-run).
Scripting from :class:`~tests.support.fake_http.FakeProviderServer`:
:meth:`fail_next` (e.g. 429 + ``Retry-After``), :meth:`hang_next`, the
bearer-key check, every request recorded.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

from tests.support import fake_http
from tests.support.chat_wire import RejectionError

__all__ = ["FakeFile", "FakeJob", "FakeOpenAIFineTuneServer"]

_PURPOSES = {"fine-tune", "assistants", "batch", "vision", "user_data", "evals"}
_JOB_FIELDS = {
    "model", "training_file", "validation_file", "hyperparameters", "suffix", "seed",
    "integrations", "method", "metadata",
}  # fmt: skip
_HYPERPARAMETERS = {"n_epochs", "batch_size", "learning_rate_multiplier"}
_FINAL = {"succeeded", "failed", "cancelled"}
MIN_EXAMPLES = 10


@dataclass
class FakeFile:
    """An uploaded file."""

    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int

    def lines(self) -> list[Any]:
        """The JSONL content, decoded line by line."""
        return [json.loads(line) for line in self.content.decode().splitlines() if line.strip()]

    def json(self) -> dict[str, Any]:
        """The ``file`` object."""
        return {
            "id": self.id, "object": "file", "bytes": len(self.content),
            "created_at": self.created_at, "filename": self.filename, "purpose": self.purpose,
        }  # fmt: skip


@dataclass
class FakeJob:
    """A fine-tuning job and its events (oldest first)."""

    id: str
    model: str
    training_file: str
    validation_file: str | None
    hyperparameters: dict[str, Any]
    suffix: str | None
    created_at: int
    status: str = "validating_files"
    step: int = 0
    total_steps: int = 0
    tokens: int = 0
    fine_tuned_model: str | None = None
    error: dict[str, Any] | None = None
    finished_at: int | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        """The ``fine_tuning.job`` object."""
        return {
            "object": "fine_tuning.job", "id": self.id, "model": self.model,
            "created_at": self.created_at, "finished_at": self.finished_at,
            "fine_tuned_model": self.fine_tuned_model, "organization_id": "org-fake",
            "result_files": [], "status": self.status, "validation_file": self.validation_file,
            "training_file": self.training_file,
            "hyperparameters": {"batch_size": "auto", "learning_rate_multiplier": "auto",
                                "n_epochs": "auto", **self.hyperparameters},
            "trained_tokens": self.tokens if self.status == "succeeded" else None,
            "error": self.error, "user_provided_suffix": self.suffix, "seed": 42,
            "estimated_finish": None, "integrations": [], "metadata": None,
        }  # fmt: skip


class FakeOpenAIFineTuneServer(fake_http.FakeProviderServer[fake_http.Fault]):
    """A scriptable fake of OpenAI's files and fine-tuning endpoints.

    Args:
        api_key: When set, requests must carry ``Authorization: Bearer <api_key>``.
        steps_per_poll: Training steps added per read of a running job.
        fail_at_step: Fail the job once it reaches this step (``None``: succeed).
        failure: ``(code, message)`` of that failure.
        hold_at_step: Stop advancing a running job at this step.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        steps_per_poll: int = 3,
        fail_at_step: int | None = None,
        failure: tuple[str, str] = ("internal_error", "Fine-tuning job failed unexpectedly."),
        hold_at_step: int | None = None,
    ) -> None:
        super().__init__(fake_http.Fault, api_key=api_key)
        self.steps_per_poll = steps_per_poll
        self.fail_at_step = fail_at_step
        self.failure = failure
        self.hold_at_step = hold_at_step
        self.files: dict[str, FakeFile] = {}
        self.jobs: dict[str, FakeJob] = {}
        self.cancel_requests: list[str] = []
        self._counter = 0

    @property
    def base_url(self) -> str:
        """The URL for ``OPENAI_BASE_URL``."""
        return self.root_url + "/v1"

    def routes(self) -> tuple[str, ...]:
        """The POST paths (the GET ones are added in :meth:`start`)."""
        return ("/v1/files", "/v1/fine_tuning/jobs", "/v1/fine_tuning/jobs/{job}/cancel")

    async def start(self) -> Self:
        """Listen on a free port, serving POST and GET routes."""
        app = web.Application()
        for path in self.routes():
            app.router.add_post(path, self._handle)
        app.router.add_get("/v1/fine_tuning/jobs/{job}", self._handle)
        app.router.add_get("/v1/fine_tuning/jobs/{job}/events", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, fake_http.HOST, 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    def error_response(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        """OpenAI's error envelope."""
        return _error(status, message, None, headers=headers)

    def default_message(self, status: int) -> str:
        """OpenAI's text for a scripted failure."""
        if status == 429:
            return "Rate limit reached for requests. Please try again later."
        if status >= 500:
            return "The server had an error while processing your request. Sorry about that!"
        return "Invalid request."

    def unauthorized_message(self, request: web.Request) -> str:
        """OpenAI's text for a wrong key (a masked copy of what was sent)."""
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
        shown = f"{sent[:3]}***{sent[-4:]}" if len(sent) > 8 else "***"
        return (
            f"Incorrect API key provided: {shown}. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body: Any = None
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            upload = form.get("file")
            body = {"purpose": form.get("purpose")}
            if isinstance(upload, web.FileField):
                body["file"] = {"filename": upload.filename, "content": upload.file.read()}
        elif request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                body = "<malformed>"
        record = self.record_type(request.path, dict(request.headers), body, time.monotonic())
        self.requests.append(record)
        response = await self._answer(request, body, self._next_fault())
        record.status = response.status
        return response

    async def serve(
        self, request: web.Request, body: Any, fault: fake_http.Fault
    ) -> web.StreamResponse:
        """Route to the endpoint; a :class:`RejectionError` becomes OpenAI's error body."""
        try:
            return web.json_response(self._route(request, body))
        except RejectionError as exc:
            return _error(exc.status, exc.message, exc.param)

    def _route(self, request: web.Request, body: Any) -> dict[str, Any]:
        job_id = request.match_info.get("job")
        if request.path == "/v1/files":
            return self._upload(body).json()
        if job_id is None:
            return self._create(body).json()
        job = self.jobs.get(job_id)
        if job is None:
            raise RejectionError(404, f"Could not find fine tune job: {job_id}", "fine_tune_id")
        if request.path.endswith("/cancel"):
            return self._cancel(job).json()
        if request.path.endswith("/events"):
            return _page(job.events, request.query)
        self._advance(job)
        return job.json()

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}-{self._counter:024d}"

    def _upload(self, body: Any) -> FakeFile:
        purpose = body.get("purpose") if isinstance(body, dict) else None
        if purpose not in _PURPOSES:
            allowed = ", ".join(sorted(_PURPOSES))
            raise RejectionError(400, f"'purpose' must be one of: {allowed}", "purpose")
        upload = body.get("file")
        if not isinstance(upload, dict):
            raise RejectionError(400, "Missing file: 'file' is a required property", "file")
        if purpose == "fine-tune" and not str(upload["filename"]).endswith(".jsonl"):
            raise RejectionError(400, "Invalid file format for Fine-Tuning API. Must be .jsonl")
        created = FakeFile(
            self._next_id("file"), upload["filename"], purpose, upload["content"], int(time.time())
        )
        self.files[created.id] = created
        return created

    def _create(self, body: Any) -> FakeJob:
        if not isinstance(body, dict):
            raise RejectionError(400, "We could not parse the JSON body of your request.")
        unknown = sorted(set(body) - _JOB_FIELDS)
        if unknown:
            raise RejectionError(400, f"Unrecognized request argument supplied: {unknown[0]}")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise RejectionError(400, "you must provide a model parameter", "model")
        for name in ("training_file", "validation_file"):
            given = body.get(name)
            if (name == "training_file" or given is not None) and given not in self.files:
                raise RejectionError(400, f"invalid {name}: {given}", name)
        hyper = body.get("hyperparameters") or {}
        if not isinstance(hyper, dict) or set(hyper) - _HYPERPARAMETERS:
            raise RejectionError(400, "Invalid 'hyperparameters'.", "hyperparameters")
        job = FakeJob(
            self._next_id("ftjob"), body["model"], body["training_file"],
            body.get("validation_file"), dict(hyper), body.get("suffix"), int(time.time()),
        )  # fmt: skip
        self.jobs[job.id] = job
        _event(job, f"Validating training file: {job.training_file}")
        _event(job, f"Created fine-tuning job: {job.id}")
        return job

    def _cancel(self, job: FakeJob) -> FakeJob:
        self.cancel_requests.append(job.id)
        if job.status in _FINAL:
            raise RejectionError(400, f"Job has already completed: {job.id}")
        job.status, job.finished_at = "cancelled", int(time.time())
        _event(job, "Fine-tuning job cancelled")
        return job

    def _advance(self, job: FakeJob) -> None:
        """One step of the job's life per read."""
        if job.status == "validating_files":
            self._validate(job)
        elif job.status == "queued":
            job.status = "running"
            _event(job, "Fine-tuning job started")
        elif job.status == "running":
            self._train(job)

    def _validate(self, job: FakeJob) -> None:
        examples = 0
        for file_id in filter(None, (job.training_file, job.validation_file)):
            try:
                chats = self.files[file_id].lines()
            except ValueError:
                self._fail(job, "invalid_file_format", f"Invalid file format: {file_id}")
                return
            if not all(isinstance(c, dict) and isinstance(c.get("messages"), list) for c in chats):
                self._fail(job, "invalid_file_format", f"Missing 'messages' in {file_id}")
                return
            if file_id == job.training_file:
                examples = len(chats)
                job.tokens = sum(len(m["content"].split()) for c in chats for m in c["messages"])
        if examples < MIN_EXAMPLES:
            message = (
                f"Training file has {examples} example(s), but must have at least "
                f"{MIN_EXAMPLES} examples"
            )
            self._fail(job, "invalid_training_file", message)
            return
        epochs = int(job.hyperparameters.get("n_epochs", 3))
        batch = int(job.hyperparameters.get("batch_size", 1))
        job.total_steps = max(1, examples * epochs // batch)
        job.tokens *= epochs
        job.status = "queued"
        _event(job, "Files validated, moving job to queued state")

    def _train(self, job: FakeJob) -> None:
        if self.hold_at_step is not None and job.step >= self.hold_at_step:
            return
        if job.step >= job.total_steps:
            job.status, job.finished_at = "succeeded", int(time.time())
            suffix = job.suffix or "custom"
            job.fine_tuned_model = f"ft:{job.model}:org-fake:{suffix}:{job.id[-8:]}"
            _event(job, f"New fine-tuned model created: {job.fine_tuned_model}")
            _event(job, "The job has successfully completed")
            return
        job.step = min(job.total_steps, job.step + self.steps_per_poll)
        if self.hold_at_step is not None:
            job.step = min(job.step, self.hold_at_step)
        data: dict[str, Any] = {
            "step": job.step, "total_steps": job.total_steps,
            "train_loss": round(2.0 / (1 + job.step), 4),
            "train_mean_token_accuracy": round(job.step / (job.step + 1), 4),
        }  # fmt: skip
        message = f"Step {job.step}/{job.total_steps}: training loss={data['train_loss']:.2f}"
        if job.validation_file:
            data["valid_loss"] = round(2.2 / (1 + job.step), 4)
            data["valid_mean_token_accuracy"] = round(job.step / (job.step + 2), 4)
            message += f", validation loss={data['valid_loss']:.2f}"
        _event(job, message, kind="metrics", data=data)
        if self.fail_at_step is not None and job.step >= self.fail_at_step:
            code, text = self.failure
            self._fail(job, code, text)

    def _fail(self, job: FakeJob, code: str, message: str) -> None:
        job.status, job.finished_at = "failed", int(time.time())
        job.error = {"code": code, "message": message, "param": None}
        _event(job, f"Fine-tuning job failed: {message}", level="error")


def _event(
    job: FakeJob, message: str, *, kind: str = "message", level: str = "info",
    data: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    job.events.append({
        "object": "fine_tuning.job.event", "id": f"ftevent-{job.id[-6:]}-{len(job.events):05d}",
        "created_at": int(time.time()), "level": level, "message": message,
        "data": data or {}, "type": kind,
    })  # fmt: skip


def _page(events: list[dict[str, Any]], query: Any) -> dict[str, Any]:
    """Events newest first, after the ``after`` id, at most ``limit`` (default 20)."""
    newest_first = events[::-1]
    after = query.get("after")
    if after is not None:
        ids = [e["id"] for e in newest_first]
        newest_first = newest_first[ids.index(after) + 1 :] if after in ids else []
    limit = int(query.get("limit", 20))
    return {
        "object": "list",
        "data": newest_first[:limit],
        "has_more": len(newest_first) > limit,
    }


def _error(
    status: int, message: str, param: str | None, headers: dict[str, str] | None = None
) -> web.Response:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    kind = "requests" if status == 429 else kind
    code = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(status)
    error = {"message": message, "type": kind, "param": param, "code": code}
    return web.json_response({"error": error}, status=status, headers=headers)
