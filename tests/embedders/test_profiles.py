"""Named embedder profiles: the defaults, the operator's file, and what a bad file says."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import msgspec
import pytest

from neuralbridge.core.errors import ConfigError
from neuralbridge.embedders import (
    EmbedderConfigError,
    EmbedderProfile,
    EmbedderSettings,
    KeyedEmbedderProfile,
    UnknownEmbedderProfileError,
    create_embedder,
    load_profiles,
)
from tests.embedders.conftest import API_KEY
from tests.support.fake_embedders import FakeEmbedderServer

StartFake = Callable[..., Awaitable[FakeEmbedderServer]]

EXAMPLE = Path(__file__).parents[2] / "deploy" / "embedder-profiles.example.toml"


def _write(tmp_path: Path, name: str, text: str) -> dict[str, str]:
    path = tmp_path / name
    path.write_text(text)
    return {"EMBEDDER_PROFILES_FILE": str(path)}


def test_load_without_file_gives_one_default_per_provider() -> None:
    """openai, cohere, jina, voyage, ollama and local exist; tei needs the file."""
    profiles = load_profiles({"OLLAMA_BASE_URL": "http://ollama.internal:11434"})

    assert profiles.names() == ["cohere", "jina", "local", "ollama", "openai", "voyage"]
    assert profiles.get("openai").credential == "OPENAI_API_KEY"
    assert profiles.get("openai").base_url is None
    assert profiles.get("cohere").credential == "COHERE_API_KEY"
    assert profiles.get("ollama").base_url == "http://ollama.internal:11434"
    assert profiles.get("local").model == "all-MiniLM-L6-v2"


def test_load_toml_file_adds_and_overrides_profiles(tmp_path: Path) -> None:
    """A file entry adds a name or replaces a default of the same name."""
    env = _write(
        tmp_path,
        "profiles.toml",
        """
[profiles.docs-tei]
provider = "tei"
model = "bge-small"
base_url = "http://tei.internal:8080"

[profiles.openai]
provider = "openai"
model = "text-embedding-3-large"
dimensions = 1024
credential = "DOCS_OPENAI_KEY"
options = { user = "docs" }
""",
    )
    profiles = load_profiles({**env, "DOCS_OPENAI_KEY": "sk-docs"})

    assert profiles.get("docs-tei") == EmbedderProfile(
        provider="tei", model="bge-small", base_url="http://tei.internal:8080"
    )
    openai = profiles.get("openai")
    assert (openai.model, openai.dimensions, openai.credential) == (
        "text-embedding-3-large",
        1024,
        "DOCS_OPENAI_KEY",
    )
    assert openai.options == {"user": "docs"}
    assert "local" in profiles


def test_load_json_file_reads_profiles(tmp_path: Path) -> None:
    """The same layout as JSON."""
    body = {"profiles": {"vllm": {"provider": "openai_compatible", "model": "e5",
                                  "base_url": "http://vllm:8000/v1"}}}  # fmt: skip
    profiles = load_profiles(_write(tmp_path, "p.json", json.dumps(body)))

    assert profiles.get("vllm").base_url == "http://vllm:8000/v1"


def test_load_example_file_is_valid() -> None:
    """The example shipped in deploy/ loads (with its key variables set)."""
    env = {"EMBEDDER_PROFILES_FILE": str(EXAMPLE), "DOCS_OPENAI_API_KEY": "sk-x"}

    assert "docs-openai" in load_profiles(env)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("missing.toml", None, "cannot read the file"),
        ("p.yaml", "profiles: {}", "must end in .toml or .json"),
        ("p.toml", "[profiles.x\n", "not valid TOML"),
        ("p.json", "{nope", "not valid JSON"),
        ("p.toml", "[other]\na = 1\n", "expected a 'profiles' table"),
        ("p.toml", '[profiles."bad name!"]\nprovider="local"\nmodel="m"\n', "profile name"),
        ("p.toml", '[profiles.x]\nprovider="nope"\nmodel="m"\n', "profile 'x'"),
        ("p.toml", '[profiles.x]\nprovider="tei"\nmodel="m"\n', "base_url is required"),
        ("p.toml", '[profiles.x]\nprovider="openai"\nmodel="m"\nbase_url="file:///etc"\n',
         "http(s) URL"),
        ("p.toml", '[profiles.x]\nprovider="openai"\nmodel="m"\napi_key="sk-secret-1"\n',
         "name the variable in 'credential'"),
        ("p.toml", '[profiles.x]\nprovider="openai"\nmodel="m"\ncredential="sk-secret-1"\n',
         "must name an environment variable"),
        ("p.toml", '[profiles.x]\nprovider="openai"\nmodel="m"\ncredential="UNSET_KEY"\n',
         "UNSET_KEY (its key) is not set"),
    ],
)  # fmt: skip
def test_load_bad_file_is_one_line_config_error(
    tmp_path: Path, name: str, text: str | None, expected: str
) -> None:
    """Every loading problem is one ConfigError line naming the file; no key is echoed."""
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_profiles({"EMBEDDER_PROFILES_FILE": str(path)})
    message = str(caught.value)
    assert expected in message
    assert "EMBEDDER_PROFILES_FILE=" in message
    assert "\n" not in message
    assert "sk-secret-1" not in message


def test_get_unknown_name_lists_configured_names() -> None:
    """An unknown name is a permanent config error listing the names, not URLs."""
    profiles = load_profiles({})
    with pytest.raises(UnknownEmbedderProfileError) as caught:
        profiles.get("attacker")

    assert isinstance(caught.value, EmbedderConfigError)
    assert "'attacker'" in str(caught.value)
    assert "openai" in str(caught.value)
    assert "http" not in str(caught.value)


def test_keyed_profile_repr_masks_the_key() -> None:
    """A job's inline api_key never shows in repr (logs, tracebacks)."""
    keyed = msgspec.json.decode(
        b'{"provider": "openai", "model": "m", "api_key": "sk-inline-1"}',
        type=KeyedEmbedderProfile,
    )

    assert "sk-inline-1" not in repr(keyed)
    assert "********" in repr(keyed)
    assert keyed.plain() == EmbedderProfile(provider="openai", model="m")


def test_endpoint_identity_differs_by_base_url() -> None:
    """Vectors from another endpoint are cached apart; the public endpoint keeps its identity."""
    public = EmbedderProfile(provider="openai", model="m")
    other = EmbedderProfile(provider="openai", model="m", base_url="http://evil.example/v1")

    assert public.endpoint_identity == public.cache_identity
    assert other.endpoint_identity != public.endpoint_identity
    assert other.cache_identity == public.cache_identity


async def test_create_keyed_profile_sends_inline_key(
    session: aiohttp.ClientSession, settings: EmbedderSettings, start_fake: StartFake
) -> None:
    """A keyed profile's api_key is the bearer token; the process env is not read."""
    server = await start_fake("openai", api_key=API_KEY)
    profile = KeyedEmbedderProfile(
        provider="openai", model="text-embedding-3-small", base_url=server.base_url,
        api_key=API_KEY,
    )  # fmt: skip
    embedder = create_embedder(profile, session=session, settings=settings, env={})
    vectors = await embedder.embed(["a", "b"], kind="document")

    assert len(vectors) == 2
    assert server.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"


def test_create_keyed_profile_with_credential_too_is_refused(
    session: aiohttp.ClientSession, settings: EmbedderSettings
) -> None:
    """api_key and credential together are ambiguous: refused."""
    profile = KeyedEmbedderProfile(
        provider="openai", model="m", api_key="sk-1", credential="OPENAI_API_KEY"
    )
    with pytest.raises(EmbedderConfigError, match="not both"):
        create_embedder(profile, session=session, settings=settings, env={})
