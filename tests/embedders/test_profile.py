"""Profiles, settings and the factory: configuration errors never reveal secrets."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from typing import Any

import aiohttp
import msgspec
import pytest

from neuralbridge.core.errors import ConfigError
from neuralbridge.core.settings import load_settings
from neuralbridge.embedders import (
    Embedder,
    EmbedderConfigError,
    EmbedderProfile,
    EmbedderSettings,
    create_embedder,
)
from tests.embedders.conftest import API_KEY, MakeEmbedder


def test_cache_identity_differs_by_dimensions_and_vector_options() -> None:
    """Dimensions and vector-changing options are part of the identity; max_batch is not."""
    base = EmbedderProfile(provider="jina", model="jina-embeddings-v3")

    assert base.cache_identity == EmbedderProfile(**_fields(base)).cache_identity
    assert base.cache_identity != EmbedderProfile(**_fields(base), dimensions=256).cache_identity
    tasked = EmbedderProfile(**_fields(base), options={"task": "code.query"})
    assert base.cache_identity != tasked.cache_identity
    batched = EmbedderProfile(**_fields(base), options={"max_batch": 10})
    assert base.cache_identity == batched.cache_identity


def test_cache_identity_local_aliases_are_equal() -> None:
    """Both spellings of the local model name one cache."""
    short = EmbedderProfile(provider="local", model="all-MiniLM-L6-v2")
    long = EmbedderProfile(provider="local", model="sentence-transformers/all-MiniLM-L6-v2")

    assert short.cache_identity == long.cache_identity


def test_decode_profile_from_message_applies_defaults() -> None:
    """A profile decoded from JSON gets its defaults; an unknown provider is refused."""
    profile = msgspec.json.decode(
        b'{"provider":"cohere","model":"embed-v4.0"}', type=EmbedderProfile
    )

    assert profile.credential is None
    assert profile.options == {}
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"provider":"acme","model":"m"}', type=EmbedderProfile)


def test_load_settings_embedder_variables_fill_fields() -> None:
    """EMBEDDER_* and MAX_EMBEDDER_REQUESTS_PER_SECOND map onto the settings."""
    env = {
        "EMBEDDER_TIMEOUT": "12.5",
        "EMBEDDER_MAX_RETRIES": "5",
        "EMBEDDER_RETRY_DELAY_MS": "250",
        "MAX_EMBEDDER_REQUESTS_PER_SECOND": "3",
    }

    settings = load_settings(EmbedderSettings, env)

    assert settings == EmbedderSettings(
        timeout=12.5, max_retries=5, retry_delay_ms=250, requests_per_second=3.0
    )
    assert load_settings(EmbedderSettings, {}) == EmbedderSettings()


def test_load_settings_malformed_variable_names_it() -> None:
    """A bad value stops start-up with the variable's name."""
    with pytest.raises(ConfigError, match="EMBEDDER_TIMEOUT"):
        load_settings(EmbedderSettings, {"EMBEDDER_TIMEOUT": "soon"})


@pytest.mark.parametrize(
    ("provider", "variable"),
    [
        ("openai", "OPENAI_API_KEY"),
        ("cohere", "COHERE_API_KEY"),
        ("jina", "JINA_API_KEY"),
        ("voyage", "VOYAGE_API_KEY"),
    ],
)
def test_create_missing_credential_names_the_variable(
    make_embedder: MakeEmbedder, provider: str, variable: str
) -> None:
    """A hosted provider without its key variable is a config error naming the variable."""
    with pytest.raises(EmbedderConfigError, match=variable):
        make_embedder(provider=provider, model="m", env={})


def test_create_named_credential_missing_names_it(make_embedder: MakeEmbedder) -> None:
    """A self-hosted provider whose profile names a key variable requires it."""
    with pytest.raises(EmbedderConfigError, match="TEI_TOKEN"):
        make_embedder(
            provider="tei", model="m", base_url="http://tei:80", credential="TEI_TOKEN", env={}
        )


def test_create_credential_holding_a_key_is_refused_without_echo(
    make_embedder: MakeEmbedder,
) -> None:
    """A profile that carries a key instead of a variable name is refused, key not repeated."""
    with pytest.raises(EmbedderConfigError) as caught:
        make_embedder(provider="openai", model="m", credential=f"sk-{API_KEY}")

    assert API_KEY not in str(caught.value)


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ({"provider": "tei", "model": "m"}, "base_url is required"),
        ({"provider": "openai_compatible", "model": "m"}, "base_url is required"),
        ({"provider": "ollama", "model": "m", "base_url": "ftp://x"}, "http"),
        ({"provider": "cohere", "model": "m", "options": {"colour": "red"}}, "colour"),
        (
            {"provider": "tei", "model": "m", "base_url": "http://t", "options": {"max_batch": 0}},
            "max_batch must be an int",
        ),
        ({"provider": "local", "model": "bert-base"}, "unknown model"),
        ({"provider": "acme", "model": "m"}, "unknown embedder provider"),
    ],
)
def test_create_invalid_profile_raises_config_error(
    make_embedder: MakeEmbedder, profile: dict[str, Any], message: str
) -> None:
    """Unusable profiles fail at construction with a config error saying why."""
    with pytest.raises(EmbedderConfigError, match=message):
        make_embedder(**profile)


@pytest.mark.parametrize(
    ("provider", "max_batch"),
    [
        ("openai", 2048),
        ("openai_compatible", 32),
        ("cohere", 96),
        ("jina", 2048),
        ("voyage", 1000),
        ("ollama", 64),
        ("tei", 32),
    ],
)
def test_create_each_provider_returns_an_embedder(
    make_embedder: MakeEmbedder, provider: str, max_batch: int
) -> None:
    """The registry builds every remote provider, with its documented batch limit."""
    embedder = make_embedder(provider=provider, model="m", base_url="http://127.0.0.1:1/v1")

    assert isinstance(embedder, Embedder)
    assert (embedder.provider, embedder.model, embedder.max_batch) == (provider, "m", max_batch)


async def test_create_local_without_extra_raises_install_hint(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without sentence-transformers the local provider says which extra to install."""
    monkeypatch.setattr(importlib.util, "find_spec", lambda _name: None)

    with pytest.raises(EmbedderConfigError) as caught:
        create_embedder(
            EmbedderProfile(provider="local", model="all-MiniLM-L6-v2"),
            session=session,
            settings=EmbedderSettings(),
            env={},
        )

    assert str(caught.value) == (
        "the local embedder needs the 'local' extra: pip install 'neuralbridge[local]'"
    )


def test_import_embedders_leaves_torch_unimported() -> None:
    """Importing the package (and building profiles) never imports torch."""
    code = (
        "import sys, neuralbridge.embedders as e; "
        "e.EmbedderProfile(provider='local', model='all-MiniLM-L6-v2'); "
        "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules"
    )

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)

    assert result.returncode == 0, result.stderr.decode()


def _fields(profile: EmbedderProfile) -> dict[str, Any]:
    return {"provider": profile.provider, "model": profile.model}
