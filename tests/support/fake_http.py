"""The plumbing every fake provider server shares: listen, record, script faults, check keys.

:class:`FakeProviderServer` is the base of the fake embedding and chat servers
(:mod:`tests.support.fake_embedders`, :mod:`tests.support.fake_llm`). It listens
on 127.0.0.1 port 0, records every request, and answers each one in order:

1. ``latency`` seconds of delay (a slow provider);
2. the next scripted fault: :meth:`~FakeProviderServer.hang_next` (nothing for N
   seconds, released on close) and :meth:`~FakeProviderServer.fail_next` (a
   status with headers, e.g. 429 + ``Retry-After``, in the dialect's error body);
3. the bearer-key check when ``api_key`` is set (401 in the dialect's shape);
4. :meth:`~FakeProviderServer.serve`, the dialect's own validation and answer.

Subclasses name their routes, error bodies and messages, and may extend
:class:`Fault` with their own scripted misbehaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Self, TypeVar

from aiohttp import web

HOST = "127.0.0.1"


@dataclass
class RecordedRequest:
    """One request as the fake received it."""

    path: str
    headers: dict[str, str]
    body: Any
    at: float
    status: int = 0


@dataclass
class Fault:
    """How to misbehave on one request (the defaults: not at all)."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    hang: float = 0.0


FaultT = TypeVar("FaultT", bound=Fault)
ServerT = TypeVar("ServerT", bound="FakeProviderServer[Any]")


class FakeProviderServer(ABC, Generic[FaultT]):
    """A scriptable local HTTP server imitating one provider API.

    Args:
        fault_type: The :class:`Fault` (sub)class this fake scripts.
        api_key: When set, requests must carry ``Authorization: Bearer <api_key>``.
        latency: Seconds before every answer starts.
    """

    #: The record made for each request (a subclass may add helpers).
    record_type: ClassVar[type[RecordedRequest]] = RecordedRequest

    def __init__(
        self, fault_type: type[FaultT], *, api_key: str | None = None, latency: float = 0.0
    ) -> None:
        self.api_key = api_key
        self.latency = latency
        self.requests: list[RecordedRequest] = []
        self._fault_type = fault_type
        self._faults: deque[FaultT] = deque()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0

    @property
    def root_url(self) -> str:
        """The server root, ``http://127.0.0.1:<port>``."""
        return f"http://{HOST}:{self._port}"

    @property
    def answered(self) -> list[RecordedRequest]:
        """Requests answered 200."""
        return [r for r in self.requests if r.status == 200]

    async def start(self) -> Self:
        """Listen on a free port."""
        app = web.Application()
        for path in self.routes():
            app.router.add_post(path, self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        """Stop listening; hanging answers are released first."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 429,
        headers: dict[str, str] | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests with ``status`` and the dialect's error body."""
        for _ in range(count):
            self._script(status=status, headers=dict(headers or {}), message=message)

    def hang_next(self, count: int = 1, *, seconds: float = 30.0) -> None:
        """Send nothing at all (not even headers) for ``seconds`` on the next ``count`` requests."""
        for _ in range(count):
            self._script(hang=seconds)

    @abstractmethod
    def routes(self) -> tuple[str, ...]:
        """The POST paths this fake serves."""

    @abstractmethod
    def error_response(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        """An error answer in the dialect's body shape."""

    @abstractmethod
    def default_message(self, status: int) -> str:
        """The provider's text for a scripted failure without a message."""

    @abstractmethod
    def unauthorized_message(self, request: web.Request) -> str:
        """The provider's text for a missing or wrong key."""

    @abstractmethod
    async def serve(self, request: web.Request, body: Any, fault: FaultT) -> web.StreamResponse:
        """Validate and answer a request that passed the scripted faults and the key check."""

    def _script(self, **fault: Any) -> None:
        self._faults.append(self._fault_type(**fault))

    def _next_fault(self) -> FaultT:
        return self._faults.popleft() if self._faults else self._fault_type()

    async def _wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when the server closes."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        record = self.record_type(request.path, dict(request.headers), body, time.monotonic())
        self.requests.append(record)
        response = await self._answer(request, body, self._next_fault())
        record.status = response.status
        return response

    async def _answer(self, request: web.Request, body: Any, fault: FaultT) -> web.StreamResponse:
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault.hang:
            await self._wait(fault.hang)
        if fault.status:
            message = fault.message or self.default_message(fault.status)
            return self.error_response(fault.status, message, fault.headers)
        expected = f"Bearer {self.api_key}"
        if self.api_key is not None and request.headers.get("Authorization") != expected:
            return self.error_response(401, self.unauthorized_message(request))
        return await self.serve(request, body, fault)


@contextlib.asynccontextmanager
async def started_servers(
    factory: Callable[..., ServerT],
) -> AsyncIterator[Callable[..., Awaitable[ServerT]]]:
    """Yield ``start(*args, **options)``, which starts a fake; all are closed on exit.

    The body of the ``start_fake`` fixtures::

        async with started_servers(FakeEmbedderServer) as start:
            yield start
    """
    servers: list[ServerT] = []

    async def start(*args: Any, **options: Any) -> ServerT:
        server = await factory(*args, **options).start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            await server.close()
