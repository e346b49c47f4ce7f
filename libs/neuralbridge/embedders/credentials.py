"""Reading an embedder's API key: by the variable its profile names, never from the profile.

Profiles travel in messages, so they hold the NAME of an environment variable
(``credential``), and the key is read here from the mapping the composition root
passes in. Errors name the variable and never a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from neuralbridge.embedders.errors import EmbedderConfigError
from neuralbridge.embedders.profile import EmbedderProfile

__all__ = ["resolve_api_key"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def resolve_api_key(
    profile: EmbedderProfile, default: str | None, required: bool, env: Mapping[str, str]
) -> str | None:
    """Read the API key from ``env`` by the variable the profile names.

    Raises:
        EmbedderConfigError: the variable is required (or explicitly named) and
            unset; the message names the variable, never a value.
    """
    name = profile.credential or default
    if name is None:
        return None
    if not _ENV_NAME.fullmatch(name):
        raise EmbedderConfigError(
            f"{profile.provider}: 'credential' must name an environment variable, not hold a key"
        )
    key = env.get(name)
    if not key and (required or profile.credential):
        raise EmbedderConfigError(
            f"{profile.provider} embedder needs an API key: environment variable {name} is not set"
        )
    return key or None
