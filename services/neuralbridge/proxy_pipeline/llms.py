"""Which chat client answers a request: the primary profile, its per-request
override, and API B; one client per distinct profile, sharing one HTTP session.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import aiohttp
import msgspec

from neuralbridge.llm import LLMClient, LLMProfile, LLMSettings, create_llm, profile_from_env
from neuralbridge.llm.metrics import configure_model_labels
from neuralbridge.messages.proxy import ProxyRequest

__all__ = ["MAX_CLIENTS", "LLMPool"]

#: Clients kept; a per-request model override makes a client of its own.
MAX_CLIENTS = 32


class LLMPool:
    """Profiles and clients for the pipeline.

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
        self._session, self._settings, self._env = session, settings, env
        self.primary = primary
        self.fallback = fallback
        self._clients: OrderedDict[bytes, LLMClient] = OrderedDict()
        configure_model_labels(primary.model, fallback.model if fallback else "")

    def profile_for(self, request: ProxyRequest) -> LLMProfile:
        """The primary profile with the request's provider/model override applied.

        Raises:
            LLMConfigError: the override names a provider the environment cannot serve.
        """
        profile = self.primary
        if request.provider is not None and request.provider != profile.provider:
            profile = profile_from_env({**self._env, "LLM_PROVIDER": request.provider})
        if request.model is not None:
            profile = msgspec.structs.replace(profile, model=request.model)
        return profile

    def client(self, profile: LLMProfile) -> LLMClient:
        """The client for ``profile`` (created once).

        Raises:
            LLMConfigError: the profile is unusable (bad base URL, missing key variable).
        """
        key = msgspec.json.encode(profile)
        client = self._clients.pop(key, None)
        if client is None:
            client = create_llm(
                profile, session=self._session, settings=self._settings, env=self._env
            )
        self._clients[key] = client  # most recently used last
        while len(self._clients) > MAX_CLIENTS:  # callers choose models: keep the pool bounded
            self._clients.popitem(last=False)
        return client
