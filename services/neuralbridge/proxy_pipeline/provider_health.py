"""Measured health of the primary LLM and API B, as this replica saw them.

:class:`TrackedPool` is the pipeline's :class:`~neuralbridge.proxy_pipeline.llms.LLMPool`
whose primary and API B clients report every call to a :class:`ProviderWatch`:
the last success, the last failure (its class only: a provider's error text can
echo a request), and calls and errors over a sliding window. A provider nobody
called for :data:`IDLE_SECONDS` is probed with the smallest request its client
can make (one token), at most once per :data:`PROBE_EVERY_SECONDS`, so an idle
replica still knows whether its providers answer. The snapshot travels in the
replica's stats reply.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Literal

import aiohttp
import structlog

from neuralbridge.llm import (
    ChatMessage,
    ChatRequest,
    ChatResult,
    Done,
    LLMClient,
    LLMProfile,
    LLMSettings,
)
from neuralbridge.llm.chat import StreamEvent
from neuralbridge.messages.monitoring import ProviderHealth
from neuralbridge.proxy_pipeline.llms import LLMPool

__all__ = [
    "IDLE_SECONDS",
    "PROBE_EVERY_SECONDS",
    "ProviderWatch",
    "TrackedPool",
    "probe_due",
    "probe_idle",
]

log = structlog.get_logger()

Role = Literal["primary_llm", "api_b"]
#: Seconds of calls that ``calls``/``errors`` cover.
WINDOW_SECONDS = 300.0
#: A provider with no call for this long is probed.
IDLE_SECONDS = 180.0
#: At most one probe per provider per this many seconds.
PROBE_EVERY_SECONDS = 300.0
_PROBE = ChatRequest(messages=[ChatMessage(role="user", content="ping")], max_tokens=1)


class ProviderWatch:
    """Outcomes of one provider's calls, as seen by this replica."""

    def __init__(
        self, role: Role, profile: LLMProfile, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.role, self.profile, self._clock = role, profile, clock
        self._events: deque[tuple[float, bool]] = deque()
        self.watching_since = clock()
        self.last_success_at: float | None = None
        self.last_error_at: float | None = None
        self.last_error_class: str | None = None
        self.last_probe_at: float | None = None

    def succeeded(self) -> None:
        """Record a call that answered."""
        self.last_success_at = self._record(ok=True)

    def failed(self, exc: BaseException) -> None:
        """Record a call that failed with ``exc`` (only its class is kept)."""
        self.last_error_at = self._record(ok=False)
        self.last_error_class = str(getattr(exc, "error_class", type(exc).__name__))

    def last_call_at(self) -> float:
        """Unix time of the latest call or probe (or when watching began)."""
        return self._events[-1][0] if self._events else self.watching_since

    def snapshot(self) -> ProviderHealth:
        """The measured state, for a stats reply."""
        self._trim(self._clock())
        return ProviderHealth(
            role=self.role, provider=self.profile.provider, model=self.profile.model,
            last_success_at=self.last_success_at, last_error_at=self.last_error_at,
            last_error_class=self.last_error_class, calls=len(self._events),
            errors=sum(1 for _, ok in self._events if not ok), window_seconds=WINDOW_SECONDS,
            last_probe_at=self.last_probe_at,
        )  # fmt: skip

    def _record(self, *, ok: bool) -> float:
        now = self._clock()
        self._events.append((now, ok))
        self._trim(now)
        return now

    def _trim(self, now: float) -> None:
        while self._events and self._events[0][0] < now - WINDOW_SECONDS:
            self._events.popleft()


class _TrackedClient:
    """A chat client whose every call reports to a :class:`ProviderWatch`."""

    def __init__(self, client: LLMClient, watch: ProviderWatch) -> None:
        self._client, self._watch = client, watch
        self.provider, self.model = client.provider, client.model

    async def complete(self, request: ChatRequest) -> ChatResult:
        try:
            result = await self._client.complete(request)
        except Exception as exc:
            self._watch.failed(exc)
            raise
        self._watch.succeeded()
        return result

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        try:
            async for event in self._client.stream(request):
                if isinstance(event, Done):
                    self._watch.succeeded()
                yield event
        except Exception as exc:
            self._watch.failed(exc)
            raise


class TrackedPool(LLMPool):
    """An :class:`LLMPool` that measures its primary and API B profiles.

    Args:
        session: The service's HTTP session.
        settings: ``LLM_*`` timeouts and retries.
        env: The service's environment (API keys are read from it by name).
        primary: The ``LLM_PROVIDER`` profile.
        fallback: API B's profile, or ``None``.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: LLMSettings,
        env: Mapping[str, str],
        *,
        primary: LLMProfile,
        fallback: LLMProfile | None,
    ) -> None:
        super().__init__(session, settings, env, primary=primary, fallback=fallback)
        self._watches = [ProviderWatch("primary_llm", primary)]
        if fallback is not None:
            self._watches.append(ProviderWatch("api_b", fallback))

    def watches(self) -> list[ProviderWatch]:
        """One watch per configured provider, the primary first."""
        return list(self._watches)

    def client(self, profile: LLMProfile) -> LLMClient:
        """The client for ``profile``; measured when it is the primary's or API B's."""
        client = super().client(profile)
        for watch in self.watches():
            if watch.profile == profile:
                return _TrackedClient(client, watch)
        return client


async def probe_idle(pool: TrackedPool, *, tick: float = 30.0) -> None:
    """Forever, every ``tick`` seconds: :func:`probe_due`."""
    while True:
        await asyncio.sleep(tick)
        await probe_due(pool, time.time())


async def probe_due(pool: TrackedPool, now: float) -> list[str]:
    """Probe each provider idle for :data:`IDLE_SECONDS` and not probed for
    :data:`PROBE_EVERY_SECONDS` at ``now``; return the roles probed."""
    probed: list[str] = []
    for watch in pool.watches():
        if _due(watch, now):
            await _probe(pool, watch, now)
            probed.append(watch.role)
    return probed


def _due(watch: ProviderWatch, now: float) -> bool:
    if now - watch.last_call_at() < IDLE_SECONDS:
        return False
    return watch.last_probe_at is None or now - watch.last_probe_at >= PROBE_EVERY_SECONDS


async def _probe(pool: TrackedPool, watch: ProviderWatch, now: float) -> None:
    watch.last_probe_at = now
    try:
        await pool.client(watch.profile).complete(_PROBE)
    except Exception as exc:  # noqa: BLE001 - the watch records the failure's class
        log.warning("llm_probe_failed", role=watch.role, provider=watch.profile.provider,
                    error_class=type(exc).__name__)  # fmt: skip
