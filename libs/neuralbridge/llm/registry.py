"""Provider name → client class, and the one factory services call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import aiohttp

from neuralbridge.llm.errors import LLMConfigError
from neuralbridge.llm.extractive import ExtractiveClient
from neuralbridge.llm.ollama import OllamaChatClient
from neuralbridge.llm.openai import OpenAIChatClient
from neuralbridge.llm.profile import LLMProfile, LLMSettings
from neuralbridge.llm.protocol import LLMClient

__all__ = ["REGISTRY", "create_llm"]


class _LLMFactory(Protocol):
    def __call__(
        self,
        profile: LLMProfile,
        *,
        session: aiohttp.ClientSession,
        settings: LLMSettings,
        env: Mapping[str, str],
    ) -> LLMClient: ...


REGISTRY: Mapping[str, _LLMFactory] = {
    "extractive": ExtractiveClient.from_profile,
    "ollama": OllamaChatClient.from_profile,
    "openai": OpenAIChatClient.from_profile,
}


def create_llm(
    profile: LLMProfile,
    *,
    session: aiohttp.ClientSession,
    settings: LLMSettings,
    env: Mapping[str, str],
) -> LLMClient:
    """Build the chat client for ``profile``.

    Args:
        profile: Provider, model and defaults (from a message or :func:`profile_from_env`).
        session: The process's HTTP session; clients share it and never close it.
        settings: Timeouts and retries (``LLM_*`` variables).
        env: Where the API key variable named by the profile is read.

    Returns:
        An :class:`LLMClient` for the profile's provider.

    Raises:
        LLMConfigError: unknown provider, a base_url that is not http(s), or a
            missing API key variable (named, never its value).
    """
    factory = REGISTRY.get(profile.provider)
    if factory is None:
        raise LLMConfigError(f"unknown LLM provider {profile.provider!r}")
    return factory(profile, session=session, settings=settings, env=env)
