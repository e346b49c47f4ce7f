"""OpenAI's files and fine-tuning API: upload JSONL, create a job, follow it, cancel it.

Wire format (``{base}`` is the API root including ``/v1``):

* ``POST {base}/files`` multipart ``purpose=fine-tune`` + ``file`` →
  ``{id, object: "file", bytes, created_at, filename, purpose}``.
* ``POST {base}/fine_tuning/jobs`` ``{model, training_file, validation_file?,
  hyperparameters: {n_epochs, batch_size, learning_rate_multiplier}, suffix?}`` →
  a ``fine_tuning.job``: ``{id, status, model, fine_tuned_model, trained_tokens,
  error: {code, message, param} | null, ...}``; ``status`` walks
  ``validating_files`` → ``queued`` → ``running`` → ``succeeded`` | ``failed`` |
  ``cancelled``.
* ``GET {base}/fine_tuning/jobs/{id}`` → the job; ``POST .../{id}/cancel`` → the job.
* ``GET {base}/fine_tuning/jobs/{id}/events?limit=&after=`` → ``{object: "list",
  data: [fine_tuning.job.event], has_more}``, newest first; an event is ``{id,
  created_at, level, message, type: "message" | "metrics", data}`` and a metrics
  event's ``data`` holds ``step``, ``total_steps``, ``train_loss``,
  ``valid_loss``, ``train_mean_token_accuracy``...

Errors are OpenAI's ``{"error": {"message", "type", "param", "code"}}``: 429,
408/504 and 5xx become :class:`~neuralbridge.llm.LLMUnavailable` (retried in the
call, honouring ``Retry-After``), every other non-2xx :class:`~neuralbridge.llm.LLMError`
with the API's own message. Messages never hold the key. Sending, classifying,
retrying and redacting come from :class:`~neuralbridge.core.providers.http.ProviderHTTP`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Self, TypeVar

import aiohttp
import msgspec
from yarl import URL

from neuralbridge.core.providers.credentials import resolve_credential
from neuralbridge.core.providers.http import ProviderHTTP, checked_base_url
from neuralbridge.core.providers.settings import CallSettings
from neuralbridge.llm.errors import LLMConfigError, LLMError, LLMResponseError, LLMUnavailable
from neuralbridge.llm.openai import OPENAI_BASE_URL

__all__ = [
    "FINAL_STATUSES",
    "FineTuneClient",
    "FineTuneHyperparameters",
    "FineTuningJob",
    "JobEvent",
    "JobFailure",
    "JobStatus",
    "UploadedFile",
]

JobStatus = Literal["validating_files", "queued", "running", "succeeded", "failed", "cancelled"]
#: The statuses a fine-tuning job never leaves.
FINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})

_PROVIDER = "openai"
T = TypeVar("T")


class UploadedFile(msgspec.Struct, kw_only=True):
    """A file the API stored (``object: "file"``)."""

    id: str
    bytes: int = 0
    filename: str = ""
    purpose: str = ""


class JobFailure(msgspec.Struct, kw_only=True):
    """Why a fine-tuning job failed (its ``error`` object)."""

    message: str = ""
    code: str | None = None
    param: str | None = None


class FineTuneHyperparameters(msgspec.Struct, frozen=True, kw_only=True):
    """The hyperparameters we send (the API also accepts ``"auto"``, which we never use)."""

    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float


class FineTuningJob(msgspec.Struct, kw_only=True):
    """A ``fine_tuning.job`` object, the fields we read."""

    id: str
    status: JobStatus
    model: str = ""
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    training_file: str | None = None
    validation_file: str | None = None
    error: JobFailure | None = None


class JobEvent(msgspec.Struct, kw_only=True):
    """A ``fine_tuning.job.event``; ``data`` carries the metrics of a ``metrics`` event."""

    id: str
    created_at: int = 0
    level: str = "info"
    message: str = ""
    type: str = "message"
    data: dict[str, Any] | None = None


class _EventPage(msgspec.Struct, kw_only=True):
    data: list[JobEvent]
    has_more: bool = False


_FILE = msgspec.json.Decoder(UploadedFile)
_JOB = msgspec.json.Decoder(FineTuningJob)
_EVENTS = msgspec.json.Decoder(_EventPage)


class FineTuneClient(ProviderHTTP[LLMError, LLMUnavailable]):
    """OpenAI's files + fine-tuning endpoints (or any server speaking them).

    Args:
        base_url: The API root including ``/v1`` (``https://api.openai.com/v1``).
        api_key: The key sent as a bearer token (required by the API).
        session: The process's HTTP session (not owned, never closed here).
        settings: Timeout and in-call retries of each request.
    """

    retry_event = "fine_tune_request_retry"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        session: aiohttp.ClientSession,
        settings: CallSettings,
    ) -> None:
        self.base_url = checked_base_url(_PROVIDER, base_url, error=LLMConfigError)
        super().__init__(
            provider=_PROVIDER, model="fine-tuning", url=URL(self.base_url),
            session=session, settings=settings, api_key=api_key,
            rejected=LLMError, unavailable=LLMUnavailable,
        )  # fmt: skip

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], *, session: aiohttp.ClientSession, settings: CallSettings
    ) -> Self:
        """``OPENAI_BASE_URL`` (default the public API) and ``OPENAI_API_KEY`` (required).

        Raises:
            LLMConfigError: ``OPENAI_API_KEY`` is unset or the base URL is unusable.
        """
        base = env.get("OPENAI_BASE_URL", "").strip() or OPENAI_BASE_URL
        key = resolve_credential(
            env, None, default="OPENAI_API_KEY", required=True,
            what="openai fine-tuning", error=LLMConfigError,
        )  # fmt: skip
        return cls(base_url=base, api_key=key, session=session, settings=settings)

    def scrub(self, text: str) -> str:
        """``text`` with the key and anything secret-shaped masked (for upstream job errors)."""
        return self._redact(text)

    async def upload_file(self, filename: str, content: bytes) -> UploadedFile:
        """Upload a JSONL file with ``purpose=fine-tune``."""

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            data.add_field("purpose", "fine-tune")
            data.add_field("file", content, filename=filename, content_type="application/jsonl")
            return data

        raw = await self._call("POST", "/files", form=form)
        return self._decode(_FILE, raw)

    async def create_job(
        self,
        *,
        model: str,
        training_file: str,
        validation_file: str | None,
        hyperparameters: FineTuneHyperparameters,
        suffix: str | None,
    ) -> FineTuningJob:
        """Create a fine-tuning job on uploaded files."""
        body: dict[str, Any] = {
            "model": model,
            "training_file": training_file,
            "hyperparameters": msgspec.to_builtins(hyperparameters),
        }
        if validation_file is not None:
            body["validation_file"] = validation_file
        if suffix:
            body["suffix"] = suffix
        return self._decode(_JOB, await self._call("POST", "/fine_tuning/jobs", json=body))

    async def get_job(self, job_id: str) -> FineTuningJob:
        """The job's current state."""
        return self._decode(_JOB, await self._call("GET", f"/fine_tuning/jobs/{job_id}"))

    async def cancel_job(self, job_id: str) -> FineTuningJob:
        """Ask the API to stop the job; return its state after the request."""
        raw = await self._call("POST", f"/fine_tuning/jobs/{job_id}/cancel")
        return self._decode(_JOB, raw)

    async def new_events(
        self, job_id: str, seen: set[str], *, page_size: int = 100
    ) -> list[JobEvent]:
        """The job's events not in ``seen``, oldest first (``seen`` is updated).

        The API lists events newest first; pages go back (``after`` = the last id
        of the previous page) until a known event or the end of the list.
        """
        fresh: list[JobEvent] = []
        after: str | None = None
        while True:
            params: dict[str, str] = {"limit": str(page_size)}
            if after is not None:
                params["after"] = after
            raw = await self._call("GET", f"/fine_tuning/jobs/{job_id}/events", params=params)
            page = self._decode(_EVENTS, raw)
            unseen = [e for e in page.data if e.id not in seen]
            fresh.extend(unseen)
            if len(unseen) < len(page.data) or not page.has_more or not page.data:
                break
            after = page.data[-1].id
        seen.update(e.id for e in fresh)
        return fresh[::-1]

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        form: Any = None,
        params: dict[str, str] | None = None,
    ) -> bytes:
        try:
            raw: bytes = await self._retrying()(self._once, method, path, json, form, params)
        except LLMUnavailable as exc:
            raise self._gave_up(exc) from None
        return raw

    async def _once(
        self,
        method: str,
        path: str,
        json: dict[str, Any] | None,
        form: Any,
        params: dict[str, str] | None,
    ) -> bytes:
        headers = {k: v for k, v in self._headers.items() if k != "Content-Type"}
        data: Any = None
        if json is not None:
            data, headers["Content-Type"] = msgspec.json.encode(json), "application/json"
        elif form is not None:
            data = form()  # a fresh multipart body per attempt
        try:
            async with self._session.request(
                method, self._url.with_path(self._url.path + path), data=data,
                params=params, headers=headers, timeout=self._timeout,
            ) as response:  # fmt: skip
                raw = await response.read()
                if 200 <= response.status < 300:
                    return raw
                raise self._http_error(response.status, response.headers, raw)
        except TimeoutError:
            raise self._timed_out() from None
        except aiohttp.ClientError as exc:
            raise self._connection_failed(exc) from None

    def _decode(self, decoder: msgspec.json.Decoder[T], raw: bytes) -> T:
        try:
            return decoder.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            message = f"{_PROVIDER}: malformed response: {exc}"
            raise LLMResponseError(self._redact(message)) from None
