"""``POST /api/feedback``: stored per request in KV, updatable, published for the trainer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded import EmbeddedNats
from neuralbridge.core.schemas import decode
from neuralbridge.messages.training import FeedbackGiven

QUERY = {"query": "Who founded Acme Rockets?", "session_id": "s1"}
EMAIL = "jane.roe@example.com"


async def test_feedback_is_stored_redacted_updatable_and_published(
    serve: Callable[..., Any], pipeline_nats: EmbeddedNats
) -> None:
    """The second score replaces the first in KV; both are published; the email is redacted."""
    async with serve() as url, httpx.AsyncClient(timeout=30) as http:
        answer = (await http.post(f"{url}/api/proxy/query", json=QUERY)).json()
        rid = answer["request_id"]
        first = await http.post(
            f"{url}/api/feedback", json={"request_id": rid, "score": 2, "comment": f"mail {EMAIL}"}
        )
        second = await http.post(f"{url}/api/feedback", json={"request_id": rid, "score": 5})
    assert first.status_code == 200, first.text
    assert first.json()["updated"] is False
    assert EMAIL not in first.json()["comment"]
    assert second.json()["updated"] is True
    bus = await Bus.connect(pipeline_nats.url, name="check")
    try:
        stored = await (await bus.js.key_value("proxy_feedback")).get(rid)
        info = await bus.js.stream_info("FEEDBACK")
        last = await bus.js.get_last_msg("FEEDBACK", f"feedback.{rid}")
    finally:
        await bus.close()
    assert decode(stored.value or b"", FeedbackGiven).score == 5
    assert info.state.messages == 2
    assert decode(last.data or b"", FeedbackGiven).score == 5


async def test_feedback_for_unknown_request_is_404(serve: Callable[..., Any]) -> None:
    """A request id with no logged answer is 404 naming ``request_id``."""
    async with serve() as url, httpx.AsyncClient() as http:
        resp = await http.post(
            f"{url}/api/feedback", json={"request_id": str(uuid.uuid4()), "score": 4}
        )
    assert resp.status_code == 404
    assert resp.json()["error"]["param"] == "request_id"


async def test_feedback_score_out_of_range_is_400_naming_score(serve: Callable[..., Any]) -> None:
    """Scores are 1 to 5."""
    async with serve(pipeline=False) as url, httpx.AsyncClient() as http:
        resp = await http.post(
            f"{url}/api/feedback", json={"request_id": str(uuid.uuid4()), "score": 9}
        )
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "score"
