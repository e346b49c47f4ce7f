"""Reading API keys by variable name: required or optional, and never echoed."""

from __future__ import annotations

import pytest

from neuralbridge.core.errors import ConfigError
from neuralbridge.core.providers.credentials import resolve_credential
from neuralbridge.llm import LLMConfigError

KEY = "nbtest-9f2c4e7a1b3d5f60"


def test_resolve_credential_named_variable_returns_its_value() -> None:
    """The variable the profile names is read, surrounding whitespace removed."""
    env = {"MY_KEY": f" {KEY}\n"}

    assert resolve_credential(env, "MY_KEY", what="openai embedder") == KEY


def test_resolve_credential_default_used_when_none_named() -> None:
    """Without a named variable the provider's default variable is read."""
    env = {"OPENAI_API_KEY": KEY}

    assert resolve_credential(env, None, default="OPENAI_API_KEY", what="x") == KEY


def test_resolve_credential_no_variable_returns_none() -> None:
    """No named and no default variable means no key, and no error."""
    assert resolve_credential({}, None, what="x") is None


def test_resolve_credential_optional_default_unset_returns_none() -> None:
    """An optional default variable that is unset means no key."""
    assert resolve_credential({}, None, default="TEI_TOKEN", what="tei embedder") is None


def test_resolve_credential_required_default_unset_names_the_variable() -> None:
    """A required default variable that is unset is an error naming it."""
    with pytest.raises(ConfigError, match=r"openai embedder needs an API key: .*OPENAI_API_KEY"):
        resolve_credential(
            {}, None, default="OPENAI_API_KEY", required=True, what="openai embedder"
        )


def test_resolve_credential_named_variable_unset_is_required() -> None:
    """A variable the profile names explicitly must be set, even for optional keys."""
    with pytest.raises(ConfigError, match="TEI_TOKEN"):
        resolve_credential({"TEI_TOKEN": "  "}, "TEI_TOKEN", what="tei embedder")


def test_resolve_credential_key_in_place_of_name_is_refused_without_echo() -> None:
    """A credential holding a key instead of a variable name is refused; the key is not repeated."""
    with pytest.raises(ConfigError) as caught:
        resolve_credential({}, f"sk-{KEY}", what="openai LLM")

    assert KEY not in str(caught.value)
    assert "must name an environment variable" in str(caught.value)


def test_resolve_credential_error_factory_picks_the_exception() -> None:
    """Each client package raises its own configuration error."""
    with pytest.raises(LLMConfigError, match="OPENAI_API_KEY"):
        resolve_credential(
            {},
            None,
            default="OPENAI_API_KEY",
            required=True,
            what="openai LLM",
            error=LLMConfigError,
        )
