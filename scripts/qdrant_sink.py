"""A stand-in Qdrant server for benchmarks: the REST calls the worker makes, no storage.

The worker talks to it with the real qdrant-client over HTTP, exactly as to a
Qdrant server (``QDRANT_URL``). It keeps only what the worker reads back —
per point: dataset, item and chunk index — so counts, filtered deletes and
aliases behave; vectors are dropped. This keeps the measured worker process free
of Qdrant local mode, which holds every vector in the worker's own memory.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

_OK = {"status": "ok", "time": 0.0}


class QdrantSink:
    """Collections of (dataset_id, item_id, chunk_index) per point id."""

    def __init__(self) -> None:
        self.collections: dict[str, dict[str, tuple[str, str, int]]] = {}
        self.aliases: dict[str, str] = {}
        self.upserts = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=512 * 1024 * 1024)
        app.router.add_get("/", self._root)
        app.router.add_get("/collections/{name}/exists", self._exists)
        app.router.add_put("/collections/{name}", self._create)
        app.router.add_put("/collections/{name}/index", self._update)
        app.router.add_put("/collections/{name}/points", self._upsert)
        app.router.add_post("/collections/{name}/points/delete", self._delete)
        app.router.add_post("/collections/{name}/points/count", self._count)
        app.router.add_get("/aliases", self._aliases)
        app.router.add_post("/collections/aliases", self._change_aliases)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @staticmethod
    def _reply(result: Any) -> web.Response:
        return web.json_response({"result": result, **_OK})

    async def _root(self, _: web.Request) -> web.Response:
        return web.json_response({"title": "qdrant - vector search engine", "version": "1.20.0"})

    async def _exists(self, request: web.Request) -> web.Response:
        return self._reply({"exists": request.match_info["name"] in self.collections})

    async def _create(self, request: web.Request) -> web.Response:
        self.collections.setdefault(request.match_info["name"], {})
        return self._reply(True)

    async def _update(self, _: web.Request) -> web.Response:
        return self._reply({"operation_id": 1, "status": "completed"})

    async def _upsert(self, request: web.Request) -> web.Response:
        points = self.collections[request.match_info["name"]]
        body = await request.json()
        for point in body["points"]:
            payload = point.get("payload") or {}
            points[str(point["id"])] = (
                str(payload.get("dataset_id")),
                str(payload.get("dataset_item_id")),
                int(payload.get("chunk_index", 0)),
            )
        self.upserts += 1
        return await self._update(request)

    async def _delete(self, request: web.Request) -> web.Response:
        points = self.collections[request.match_info["name"]]
        query = (await request.json()).get("filter") or {}
        stale = dict(_stale_filter(f) for f in query.get("should") or [query])
        for pid, (_, item_id, index) in list(points.items()):
            if item_id in stale and index >= stale[item_id]:
                del points[pid]
        return await self._update(request)

    async def _count(self, request: web.Request) -> web.Response:
        points = self.collections[request.match_info["name"]]
        must = ((await request.json()).get("filter") or {}).get("must") or []
        dataset = next((c["match"]["value"] for c in must if c.get("key") == "dataset_id"), None)
        return self._reply({"count": sum(1 for d, _, _ in points.values() if d == dataset)})

    async def _aliases(self, _: web.Request) -> web.Response:
        listed = [{"alias_name": a, "collection_name": c} for a, c in self.aliases.items()]
        return self._reply({"aliases": listed})

    async def _change_aliases(self, request: web.Request) -> web.Response:
        for action in (await request.json())["actions"]:
            if "create_alias" in action:
                spec = action["create_alias"]
                self.aliases[spec["alias_name"]] = spec["collection_name"]
            elif "delete_alias" in action:
                self.aliases.pop(action["delete_alias"]["alias_name"], None)
        return self._reply(True)


def _stale_filter(query: dict[str, Any]) -> tuple[str | None, int]:
    item, first = None, 0
    for condition in query.get("must") or []:
        if condition.get("key") == "dataset_item_id":
            item = condition["match"]["value"]
        if condition.get("key") == "chunk_index":
            first = int(condition["range"]["gte"])
    return item, first
