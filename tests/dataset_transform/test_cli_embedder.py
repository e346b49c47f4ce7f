"""``nb transforms create``: which embedder the published job names."""

from __future__ import annotations

import pytest

from neuralbridge.cli.main import _transform_embedder, build_parser
from neuralbridge.embedders import EmbedderProfile

BASE = ["transforms", "create", "--dataset", "d", "--collection", "c"]


def _embedder(*extra: str) -> str | EmbedderProfile:
    return _transform_embedder(build_parser().parse_args([*BASE, *extra]))


def test_create_without_options_names_local_profile() -> None:
    """No option: the worker's local profile, by name."""
    assert _embedder() == "local"


def test_create_provider_alone_names_its_default_profile() -> None:
    """``--provider openai`` keeps working: it sends the name ``openai``."""
    assert _embedder("--provider", "openai") == "openai"


def test_create_profile_sends_that_name() -> None:
    """``--profile NAME`` sends the operator's profile name."""
    assert _embedder("--profile", "docs-openai") == "docs-openai"


def test_create_provider_with_model_sends_full_profile() -> None:
    """With ``--model`` (and friends) the trusted CLI sends a full profile naming a variable."""
    assert _embedder(
        "--provider", "openai", "--model", "text-embedding-3-large", "--credential", "MY_KEY"
    ) == EmbedderProfile(provider="openai", model="text-embedding-3-large", credential="MY_KEY")


@pytest.mark.parametrize(
    "extra",
    [("--profile", "p", "--provider", "openai"), ("--model", "m"),
     ("--provider", "nope", "--model", "m")],
)  # fmt: skip
def test_create_conflicting_or_bad_options_exit_with_error(extra: tuple[str, ...]) -> None:
    """Ambiguous or invalid embedder options stop the command with one error line."""
    with pytest.raises(SystemExit, match="error:"):
        _embedder(*extra)
