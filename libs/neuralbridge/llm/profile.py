"""Which model answers (a profile, carried in messages) and how hard clients try (settings).

An :class:`LLMProfile` travels inside NATS messages, so it names the environment
variable that holds an API key and never the key itself. :class:`LLMSettings`
come from the process environment, once, in a composition root::

    settings = load_settings(LLMSettings, env)      # neuralbridge.core.settings
    profile = profile_from_env(env)                 # LLM_PROVIDER, OPENAI_*, OLLAMA_*
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from neuralbridge.core.providers.settings import Milliseconds, Retries, Seconds
from neuralbridge.llm.errors import LLMConfigError

if TYPE_CHECKING:
    from neuralbridge.llm.chat import ChatRequest

__all__ = ["LLMProfile", "LLMSettings", "Provider", "profile_from_env"]

Provider = Literal["openai", "ollama", "extractive"]

_DEFAULT_PROVIDER: Provider = "extractive"
_DEFAULT_MODELS: dict[str, str] = {
    "openai": "gpt-4o-mini",
    "ollama": "llama3.2",
    "extractive": "extractive",
}


class LLMProfile(msgspec.Struct, frozen=True, kw_only=True):
    """One chat model at one provider, safe to put in a message.

    Attributes:
        provider: ``openai`` (the OpenAI API or any server speaking it: vLLM,
            llama.cpp server, LM Studio), ``ollama``, or the offline ``extractive``.
        model: The provider's model name (``gpt-4o-mini``, ``llama3.2``).
        base_url: The API root, including ``/v1`` for OpenAI-style servers;
            ``None`` selects ``https://api.openai.com/v1`` or ``http://localhost:11434``.
        temperature: Sampling temperature; ``None`` leaves the provider's default.
        max_tokens: Most tokens in an answer; ``None`` leaves the provider's default.
        credential: The NAME of the environment variable holding the API key;
            ``None`` selects ``OPENAI_API_KEY`` for the public OpenAI API and no
            key for ``ollama`` or any other base URL (a key never goes to a server
            the profile did not pair it with).
    """

    provider: Provider
    model: str
    base_url: str | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    max_tokens: Annotated[int, msgspec.Meta(gt=0)] | None = None
    credential: str | None = None

    def sampling_for(self, request: ChatRequest) -> tuple[float | None, int | None]:
        """Return ``(temperature, max_tokens)`` for ``request``: its overrides win."""
        temperature = self.temperature if request.temperature is None else request.temperature
        max_tokens = self.max_tokens if request.max_tokens is None else request.max_tokens
        return temperature, max_tokens


class LLMSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How chat clients call providers; one instance per process.

    Attributes:
        timeout: Seconds a whole request may take, streamed answers included (``LLM_TIMEOUT``).
        connect_timeout: Seconds to open the connection (``LLM_CONNECT_TIMEOUT``).
        first_token_timeout: Seconds from sending a streaming request to its first
            text delta (``LLM_FIRST_TOKEN_TIMEOUT``); a slower start is retried.
        max_retries: Retries after the first attempt on 429/5xx/timeouts/connection
            errors (``LLM_MAX_RETRIES``).
        retry_delay_ms: Base of the exponential backoff with jitter, used when the
            server sends no hint (``LLM_RETRY_DELAY_MS``).
    """

    timeout: Seconds = msgspec.field(default=120.0, name="LLM_TIMEOUT")
    connect_timeout: Seconds = msgspec.field(default=10.0, name="LLM_CONNECT_TIMEOUT")
    first_token_timeout: Seconds = msgspec.field(default=30.0, name="LLM_FIRST_TOKEN_TIMEOUT")
    max_retries: Retries = msgspec.field(default=2, name="LLM_MAX_RETRIES")
    retry_delay_ms: Milliseconds = msgspec.field(default=500, name="LLM_RETRY_DELAY_MS")


def profile_from_env(env: Mapping[str, str]) -> LLMProfile:
    """Build the default profile from the deployment's ``.env`` variables.

    ``LLM_PROVIDER`` picks the provider (``extractive`` when unset: it needs no
    server and no key). For ``openai``: ``OPENAI_DEFAULT_MODEL``,
    ``OPENAI_DEFAULT_TEMPERATURE`` and ``OPENAI_BASE_URL`` (for an
    OpenAI-compatible server, which then gets ``OPENAI_API_KEY`` too when it is
    set); the key stays in the environment and is read by the client. For
    ``ollama``: ``OLLAMA_DEFAULT_MODEL`` and ``OLLAMA_BASE_URL``.

    Raises:
        LLMConfigError: a variable holds an unusable value; the message names it.
    """
    provider = env.get("LLM_PROVIDER", "").strip().lower() or _DEFAULT_PROVIDER
    raw: dict[str, Any] = {"provider": provider, "model": _DEFAULT_MODELS.get(provider, "")}
    sources: dict[str, str] = {"provider": "LLM_PROVIDER"}
    prefix = provider.upper()
    for field, suffix in (
        ("model", "DEFAULT_MODEL"),
        ("temperature", "DEFAULT_TEMPERATURE"),
        ("base_url", "BASE_URL"),
    ):
        name = f"{prefix}_{suffix}"
        if provider != "extractive" and env.get(name, "").strip():
            raw[field] = env[name].strip()
            sources[field] = name
    if provider == "openai" and "base_url" in raw and env.get("OPENAI_API_KEY", "").strip():
        raw["credential"] = "OPENAI_API_KEY"  # the .env pairs this key with this server
    try:
        return msgspec.convert(raw, LLMProfile, strict=False)
    except msgspec.ValidationError as exc:
        problem, _, field = str(exc).partition(" - at `$.")
        name = sources.get(field.rstrip("`"), "LLM_PROVIDER")
        raise LLMConfigError(f"{name}: {problem}") from None
