"""A TEST STAND-IN for a Qdrant server: Qdrant's REST API over qdrant-client's local mode.

This is not a product and not a Qdrant server. No Qdrant binary can be installed
where the tests run, yet services started as separate processes must share one
vector store through ``QDRANT_URL``, because local mode (``QDRANT_PATH``) can be
opened by one process only. :class:`QdrantStandIn` serves, on loopback, exactly
the REST endpoints the project calls (see ``_ROUTES``), in a thread with its own
event loop, and answers them from one ``QdrantClient(path=...)``:

- request bodies are parsed into ``qdrant_client.http.models`` types and results
  are written from them, so the wire format is Qdrant's own;
- errors are Qdrant's ``ErrorResponse`` shape: an unknown collection is a 404
  ``Not found: Collection `name` doesn't exist!``, a body that does not parse or
  that local mode rejects is a 400.

``tests/test_qdrant_standin.py`` checks that ``AsyncQdrantClient(url=...)``
against the stand-in and ``AsyncQdrantClient(path=...)`` return the same results.
By hand: ``python -m tests.support.qdrant_server --path DIR --port 6333``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import re
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError
from qdrant_client import QdrantClient
from qdrant_client.http import models

__all__ = ["QdrantStandIn"]

#: The version ``GET /`` reports: the installed client's, which it checks itself against.
SERVER_VERSION = importlib.metadata.version("qdrant-client")
_NOT_FOUND = re.compile(r"^Collection (?P<name>.+) not found$")

Handler = Callable[[web.Request, QdrantClient], Any]


def _json(value: Any) -> Any:
    """A result as Qdrant writes it: models dumped in JSON mode, containers walked."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


def _reply(result: Any, started: float) -> web.Response:
    body = {"result": _json(result), "status": "ok", "time": time.perf_counter() - started}
    return web.json_response(body)


def _error(status: int, message: str, started: float) -> web.Response:
    error = models.ErrorResponse(
        time=time.perf_counter() - started,
        status=models.ErrorResponseStatus(error=message),
        result=None,
    )
    return web.json_response(error.model_dump(mode="json"), status=status)


async def _body(request: web.Request, kind: Any) -> Any:
    """The request body parsed as the Qdrant model (or union) ``kind``."""
    return TypeAdapter(kind).validate_json(await request.read())


def _name(request: web.Request) -> str:
    return request.match_info["name"]


async def _version(_request: web.Request) -> web.Response:
    """``GET /``: Qdrant answers its version unwrapped (no ``result``/``status``)."""
    info = models.VersionInfo(title="qdrant test stand-in", version=SERVER_VERSION)
    return web.json_response(info.model_dump(mode="json"))


async def _collections(_request: web.Request, local: QdrantClient) -> Any:
    return local.get_collections()


async def _exists(request: web.Request, local: QdrantClient) -> Any:
    return models.CollectionExistence(exists=local.collection_exists(_name(request)))


async def _collection(request: web.Request, local: QdrantClient) -> Any:
    return local.get_collection(_name(request))


async def _create(request: web.Request, local: QdrantClient) -> Any:
    body = await _body(request, models.CreateCollection)
    return local.create_collection(
        _name(request),
        vectors_config=body.vectors,
        sparse_vectors_config=body.sparse_vectors,
        hnsw_config=body.hnsw_config,
        quantization_config=body.quantization_config,
        optimizers_config=body.optimizers_config,
        on_disk_payload=body.on_disk_payload,
    )


async def _drop(request: web.Request, local: QdrantClient) -> Any:
    return local.delete_collection(_name(request))


async def _index(request: web.Request, local: QdrantClient) -> Any:
    body = await _body(request, models.CreateFieldIndex)
    return local.create_payload_index(
        _name(request), field_name=body.field_name, field_schema=body.field_schema
    )


async def _upsert(request: web.Request, local: QdrantClient) -> Any:
    body = await _body(request, models.PointInsertOperations)
    points = body.points if isinstance(body, models.PointsList) else body.batch
    return local.upsert(_name(request), points=points, wait=True)


async def _delete(request: web.Request, local: QdrantClient) -> Any:
    body = await _body(request, models.PointsSelector)
    return local.delete(_name(request), points_selector=body, wait=True)


async def _count(request: web.Request, local: QdrantClient) -> Any:
    body = await _body(request, models.CountRequest)
    return local.count(_name(request), count_filter=body.filter, exact=body.exact is not False)


async def _retrieve(request: web.Request, local: QdrantClient) -> Any:
    body = await _body(request, models.PointRequest)
    return local.retrieve(
        _name(request),
        ids=body.ids,
        with_payload=body.with_payload if body.with_payload is not None else True,
        with_vectors=body.with_vector if body.with_vector is not None else False,
    )


async def _scroll(request: web.Request, local: QdrantClient) -> Any:
    body = await _body(request, models.ScrollRequest)
    points, offset = local.scroll(
        _name(request),
        scroll_filter=body.filter,
        limit=body.limit if body.limit is not None else 10,
        offset=body.offset,
        order_by=body.order_by,
        with_payload=body.with_payload if body.with_payload is not None else True,
        with_vectors=body.with_vector if body.with_vector is not None else False,
    )
    return models.ScrollResult(points=points, next_page_offset=offset)


async def _query(request: web.Request, local: QdrantClient) -> Any:
    body = await _body(request, models.QueryRequest)
    return local.query_points(
        _name(request),
        query=body.query,
        using=body.using,
        prefetch=body.prefetch,
        query_filter=body.filter,
        search_params=body.params,
        limit=body.limit if body.limit is not None else 10,
        offset=body.offset,
        with_payload=body.with_payload if body.with_payload is not None else False,
        with_vectors=body.with_vector if body.with_vector is not None else False,
        score_threshold=body.score_threshold,
    )


async def _aliases(_request: web.Request, local: QdrantClient) -> Any:
    return local.get_aliases()


async def _change_aliases(request: web.Request, local: QdrantClient) -> Any:
    body = await _body(request, models.ChangeAliasesOperation)
    return local.update_collection_aliases(change_aliases_operations=body.actions)


#: (method, path, handler): the endpoints the project's AsyncQdrantClient calls use.
_ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/collections", _collections),
    ("GET", "/aliases", _aliases),
    ("POST", "/collections/aliases", _change_aliases),
    ("GET", "/collections/{name}/exists", _exists),
    ("GET", "/collections/{name}", _collection),
    ("PUT", "/collections/{name}", _create),
    ("DELETE", "/collections/{name}", _drop),
    ("PUT", "/collections/{name}/index", _index),
    ("PUT", "/collections/{name}/points", _upsert),
    ("POST", "/collections/{name}/points", _retrieve),
    ("POST", "/collections/{name}/points/delete", _delete),
    ("POST", "/collections/{name}/points/count", _count),
    ("POST", "/collections/{name}/points/scroll", _scroll),
    ("POST", "/collections/{name}/points/query", _query),
)


def _endpoint(
    handler: Handler, local: QdrantClient
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """One route: run ``handler`` on the local client, map its errors onto Qdrant's."""

    async def serve(request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            return _reply(await handler(request, local), started)
        except ValidationError as exc:
            return _error(400, f"Format error in JSON body: {exc.errors()[0]['msg']}", started)
        except ValueError as exc:
            missing = _NOT_FOUND.match(str(exc))
            if missing:
                name = missing["name"]
                return _error(404, f"Not found: Collection `{name}` doesn't exist!", started)
            return _error(400, f"Bad request: {exc}", started)

    return serve


def build_app(local: QdrantClient) -> web.Application:
    """The stand-in's aiohttp application over ``local`` (a local-mode client)."""
    app = web.Application()
    app.router.add_get("/", _version)
    for method, path, handler in _ROUTES:
        app.router.add_route(method, path, _endpoint(handler, local))
    return app


class QdrantStandIn:
    """The stand-in served from a background thread on ``127.0.0.1``.

    Args:
        path: The local-mode directory it answers from (it holds that directory's lock).
        port: Port to bind; 0 picks a free one (see :attr:`url` after :meth:`start`).
    """

    def __init__(self, path: Path, port: int = 0) -> None:
        self._path, self._port = path, port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="qdrant-stand-in", daemon=True)
        self._failure: BaseException | None = None
        self._stopped: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """The base URL to give ``QDRANT_URL``."""
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> QdrantStandIn:
        """Serve in the background; return once the port is bound."""
        self._thread.start()
        if not self._ready.wait(30) or self._failure is not None:
            raise RuntimeError(f"the Qdrant stand-in did not start: {self._failure!r}")
        return self

    def stop(self) -> None:
        """Stop serving and release the local-mode directory."""
        if self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(30)

    def __enter__(self) -> QdrantStandIn:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to start(), which raises it
            self._failure = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stopped = asyncio.Event()
        local = QdrantClient(path=str(self._path))
        runner = web.AppRunner(build_app(local), access_log=None)
        try:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", self._port)
            await site.start()
            self._port = int(runner.addresses[0][1])
            self._ready.set()
            await self._stopped.wait()
        finally:
            await runner.cleanup()
            local.close()


def main() -> None:
    """Serve the stand-in in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description="Qdrant REST test stand-in (local mode)")
    parser.add_argument("--path", type=Path, required=True, help="local-mode directory")
    parser.add_argument("--port", type=int, default=6333)
    args = parser.parse_args()
    with QdrantStandIn(args.path, args.port) as server:
        print(f"Qdrant test stand-in on {server.url} over {args.path}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
