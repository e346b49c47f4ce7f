"""Bad requests are 4xx naming what is wrong; the body limit is 413; OpenAPI is served."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"session_id": "s"}, "query"),
        ({"query": "hi"}, "session_id"),
        ({"query": "hi", "session_id": "s", "temperature": 3}, "temperature"),
        ({"query": "hi", "session_id": "s", "temperature": "hot"}, "temperature"),
        ({"query": "hi", "session_id": "s", "provider": "anthropic"}, "provider"),
        ({"query": "", "session_id": "s"}, "query"),
        ({"query": "hi", "session_id": "s", "sesion": "typo"}, "sesion"),
    ],
)
async def test_invalid_query_field_is_400_naming_it(
    serve: Callable[..., Any], body: dict[str, Any], field: str
) -> None:
    """Each invalid or unknown field is named in the message and in ``param``."""
    async with serve(pipeline=False) as url, httpx.AsyncClient() as http:
        resp = await http.post(f"{url}/api/proxy/query", json=body)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert field in error["message"]
    assert error["param"] == field
    assert error["type"] == "invalid_request_error"


async def test_malformed_json_is_400(serve: Callable[..., Any]) -> None:
    """A body that is not JSON is 400 saying so."""
    async with serve(pipeline=False) as url, httpx.AsyncClient() as http:
        resp = await http.post(
            f"{url}/api/proxy/query", content=b'{"query": "hi", "session_id": ', headers=JSON
        )
    assert resp.status_code == 400, resp.text
    assert "JSON" in resp.json()["error"]["message"]


async def test_chat_message_with_bad_role_is_400_naming_the_path(
    serve: Callable[..., Any],
) -> None:
    """A nested field is named by its path."""
    body = {"model": "neuralbridge", "messages": [{"role": "robot", "content": "hi"}]}
    async with serve(pipeline=False) as url, httpx.AsyncClient() as http:
        resp = await http.post(f"{url}/v1/chat/completions", json=body)
    assert resp.status_code == 400, resp.text
    assert "messages[0].role" in resp.json()["error"]["message"]


async def test_body_over_limit_is_413(serve: Callable[..., Any]) -> None:
    """A body larger than GATEWAY_MAX_BODY_BYTES is refused with 413."""
    body = {"query": "x" * 5000, "session_id": "s"}
    async with (
        serve(pipeline=False, GATEWAY_MAX_BODY_BYTES="1000") as url,
        httpx.AsyncClient() as http,
    ):
        resp = await http.post(f"{url}/api/proxy/query", json=body)
    assert resp.status_code == 413, resp.text
    assert resp.json()["error"]["code"] == "request_too_large"


async def test_openapi_document_lists_the_routes(serve: Callable[..., Any]) -> None:
    """``/schema/openapi.json`` documents the REST and OpenAI routes."""
    async with serve(pipeline=False) as url, httpx.AsyncClient() as http:
        resp = await http.get(f"{url}/schema/openapi.json")
    assert resp.status_code == 200
    paths = resp.json()["paths"]
    assert {"/api/proxy/query", "/v1/chat/completions", "/v1/models"} <= set(paths)
