"""The fake speaks the real protocol: the official OpenAI SDK talks to it unmodified.

The SDK is not a project dependency; these tests run only where it is installed.
"""

from __future__ import annotations

import pytest

from tests.llm.conftest import API_KEY, StartFake

openai = pytest.importorskip("openai")


async def test_openai_sdk_completes_against_fake(start_fake: StartFake) -> None:
    """AsyncOpenAI.chat.completions.create parses the fake's chat.completion answer."""
    server = await start_fake("openai", api_key=API_KEY, answer="Hello from the fake.")
    async with openai.AsyncOpenAI(api_key=API_KEY, base_url=server.base_url) as client:
        completion = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            max_completion_tokens=50,
        )

    assert completion.choices[0].message.content == "Hello from the fake."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 4


async def test_openai_sdk_streams_against_fake_with_usage(start_fake: StartFake) -> None:
    """The SDK's SSE reader reassembles the fake's chunks and reads the usage chunk."""
    server = await start_fake("openai", answer="Streaming works fine.")
    async with openai.AsyncOpenAI(api_key="unused", base_url=server.base_url) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Streaming works fine."
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3


async def test_openai_sdk_raises_its_rate_limit_error_on_fake_429(start_fake: StartFake) -> None:
    """The fake's 429 error body is what the SDK maps to RateLimitError."""
    server = await start_fake("openai")
    server.fail_next(status=429, headers={"Retry-After": "0"})
    async with openai.AsyncOpenAI(
        api_key="unused", base_url=server.base_url, max_retries=0
    ) as client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )

    assert caught.value.code == "rate_limit_exceeded"
