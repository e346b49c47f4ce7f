"""Reading an LLM's API key: by the variable its profile names, never from the profile.

Profiles travel in messages, so they hold the NAME of an environment variable
(``credential``), and the key is read here from the mapping the composition root
passes in. Errors name the variable and never a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from neuralbridge.llm.errors import LLMConfigError
from neuralbridge.llm.profile import LLMProfile

__all__ = ["resolve_api_key"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def resolve_api_key(profile: LLMProfile, default: str | None, env: Mapping[str, str]) -> str | None:
    """Read the API key from ``env`` by the variable the profile (or ``default``) names.

    Args:
        profile: The profile; its ``credential`` wins over ``default``.
        default: The provider's conventional variable, required when used.
        env: The process environment (as the composition root read it).

    Raises:
        LLMConfigError: the named variable is unset or the credential is not a
            variable name; the message names the variable, never a value.
    """
    name = profile.credential or default
    if name is None:
        return None
    if not _ENV_NAME.fullmatch(name):
        raise LLMConfigError(
            f"{profile.provider}: 'credential' must name an environment variable, not hold a key"
        )
    key = env.get(name, "").strip()
    if not key:
        raise LLMConfigError(
            f"{profile.provider} LLM needs an API key: environment variable {name} is not set"
        )
    return key
