"""The replies of one request: nothing follows the final answer."""

from __future__ import annotations

import asyncio
import time
import uuid

from nats.aio.msg import Msg

from neuralbridge.core.bus import Bus
from neuralbridge.core.embedded.nats import EmbeddedNats
from neuralbridge.core.schemas import decode
from neuralbridge.messages.proxy import ProxyAnswer, ProxyFailure, ProxyReply, ProxyRequest
from neuralbridge.proxy_pipeline.replies import Replier


async def test_failure_after_the_answer_is_not_sent(private_nats: EmbeddedNats) -> None:
    """``fail`` after ``answer`` sends nothing; before it, the failure is the last reply."""
    bus = await Bus.connect(private_nats.url, name="replies-test")
    try:
        inbox = bus.nc.new_inbox()
        received: list[ProxyReply] = []

        async def collect(msg: Msg) -> None:
            received.append(decode(msg.data, ProxyReply))  # type: ignore[arg-type]

        sub = await bus.nc.subscribe(inbox, cb=collect)
        request = ProxyRequest(
            request_id=str(uuid.uuid4()), session_id="s", query="q", reply_to=inbox,
            deadline=time.time() + 30,
        )  # fmt: skip
        answered = Replier(bus.nc, request, attempt=1)
        await answered.answer(
            ProxyAnswer(
                request_id=request.request_id, answer="a", provider="p", model="m", confidence=1.0
            )
        )
        await answered.fail("internal error: OSError", "InternalError")
        failed = Replier(bus.nc, request, attempt=2)
        await failed.fail("internal error: OSError", "InternalError")
        await bus.nc.flush()
        await asyncio.sleep(0.1)
        await sub.unsubscribe()
    finally:
        await bus.close()
    assert [type(r) for r in received] == [ProxyAnswer, ProxyFailure]
    assert received[1].seq == 1_000_000  # the second attempt's
