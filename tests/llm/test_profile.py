"""Profiles, settings and the registry: configuration from the environment, no secrets."""

from __future__ import annotations

import aiohttp
import msgspec
import pytest

from neuralbridge.core.settings import load_settings
from neuralbridge.llm import (
    ChatResult,
    Delta,
    Done,
    LLMConfigError,
    LLMProfile,
    LLMSettings,
    StreamEvent,
    create_llm,
    profile_from_env,
)
from neuralbridge.llm.ollama import OllamaChatClient
from neuralbridge.llm.openai import OpenAIChatClient
from tests.llm.conftest import API_KEY


def test_profile_from_env_reads_the_seed_variables_for_openai() -> None:
    """LLM_PROVIDER=openai picks OPENAI_DEFAULT_MODEL and OPENAI_DEFAULT_TEMPERATURE."""
    env = {
        "LLM_PROVIDER": "openai",
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_DEFAULT_MODEL": "gpt-4",
        "OPENAI_DEFAULT_TEMPERATURE": "0.7",
        "OLLAMA_DEFAULT_MODEL": "llama2",
    }

    profile = profile_from_env(env)

    assert profile == LLMProfile(provider="openai", model="gpt-4", temperature=0.7)
    assert API_KEY not in msgspec.json.encode(profile).decode()


def test_profile_from_env_reads_the_seed_variables_for_ollama() -> None:
    """LLM_PROVIDER=ollama picks OLLAMA_DEFAULT_MODEL and OLLAMA_BASE_URL."""
    env = {
        "LLM_PROVIDER": "ollama",
        "OLLAMA_BASE_URL": "http://gpu-box:11434",
        "OLLAMA_DEFAULT_MODEL": "llama2",
    }

    assert profile_from_env(env) == LLMProfile(
        provider="ollama", model="llama2", base_url="http://gpu-box:11434"
    )


def test_profile_from_env_compatible_server_pairs_the_key_by_name() -> None:
    """OPENAI_BASE_URL with OPENAI_API_KEY set: the profile names the variable, not the key."""
    env = {
        "LLM_PROVIDER": "openai",
        "OPENAI_BASE_URL": "http://vllm:8000/v1",
        "OPENAI_API_KEY": "k",
    }

    profile = profile_from_env(env)

    assert (profile.base_url, profile.credential) == ("http://vllm:8000/v1", "OPENAI_API_KEY")


def test_profile_from_env_unset_provider_is_offline_extractive() -> None:
    """Without LLM_PROVIDER the offline extractive provider answers (no server, no key)."""
    assert profile_from_env({}) == LLMProfile(provider="extractive", model="extractive")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"LLM_PROVIDER": "anthropic"}, "LLM_PROVIDER"),
        (
            {"LLM_PROVIDER": "openai", "OPENAI_DEFAULT_TEMPERATURE": "hot"},
            "OPENAI_DEFAULT_TEMPERATURE",
        ),
        (
            {"LLM_PROVIDER": "openai", "OPENAI_DEFAULT_TEMPERATURE": "3"},
            "OPENAI_DEFAULT_TEMPERATURE",
        ),
    ],
)
def test_profile_from_env_bad_value_names_the_variable(env: dict[str, str], variable: str) -> None:
    """An unusable value raises LLMConfigError naming the variable."""
    with pytest.raises(LLMConfigError, match=f"^{variable}: "):
        profile_from_env(env)


def test_load_settings_reads_llm_variables() -> None:
    """LLMSettings load from LLM_* variables through the shared settings loader."""
    env = {"LLM_TIMEOUT": "30", "LLM_FIRST_TOKEN_TIMEOUT": "4.5", "LLM_MAX_RETRIES": "5"}

    settings = load_settings(LLMSettings, env)

    assert (settings.timeout, settings.first_token_timeout, settings.max_retries) == (30.0, 4.5, 5)
    assert (settings.connect_timeout, settings.retry_delay_ms) == (10.0, 500)


async def test_create_llm_openai_public_api_without_key_names_the_variable(
    session: aiohttp.ClientSession,
) -> None:
    """The public OpenAI API needs OPENAI_API_KEY: the error names it."""
    with pytest.raises(LLMConfigError, match="OPENAI_API_KEY is not set"):
        create_llm(
            LLMProfile(provider="openai", model="gpt-4o-mini"),
            session=session,
            settings=LLMSettings(),
            env={},
        )


async def test_create_llm_credential_holding_a_key_is_refused_without_echoing_it(
    session: aiohttp.ClientSession,
) -> None:
    """A credential holding a key (not a variable name) is refused without echoing the key."""
    with pytest.raises(LLMConfigError, match="must name an environment variable") as caught:
        create_llm(
            LLMProfile(provider="openai", model="m", credential="sk-live-abc-123"),
            session=session,
            settings=LLMSettings(),
            env={},
        )

    assert "sk-live-abc-123" not in str(caught.value)


async def test_create_llm_maps_providers_and_defaults(session: aiohttp.ClientSession) -> None:
    """The registry builds each provider's client with its default base URL."""
    settings = LLMSettings()
    env = {"OPENAI_API_KEY": API_KEY}
    openai = create_llm(
        LLMProfile(provider="openai", model="m"), session=session, settings=settings, env=env
    )
    ollama = create_llm(
        LLMProfile(provider="ollama", model="m"), session=session, settings=settings, env={}
    )

    assert isinstance(openai, OpenAIChatClient)
    assert openai.base_url == "https://api.openai.com/v1"
    assert isinstance(ollama, OllamaChatClient)
    assert ollama.base_url == "http://localhost:11434"


async def test_create_llm_non_http_base_url_is_a_config_error(
    session: aiohttp.ClientSession,
) -> None:
    """A base_url that is not http(s) is refused at construction."""
    with pytest.raises(LLMConfigError, match="base_url"):
        create_llm(
            LLMProfile(provider="ollama", model="m", base_url="ftp://x"),
            session=session,
            settings=LLMSettings(),
            env={},
        )


def test_stream_events_round_trip_as_a_tagged_union() -> None:
    """Delta/Done are tagged structs: a NATS consumer decodes them back into the union."""
    events: list[StreamEvent] = [
        Delta(text="hi"),
        Done(result=ChatResult(text="hi", model="m", provider="openai")),
    ]

    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(events), type=list[StreamEvent])

    assert decoded == events
    assert msgspec.to_builtins(events[0]) == {"type": "delta", "text": "hi"}
