"""Reading a provider's API key by the NAME of its environment variable, never echoing it.

Profiles travel in messages, so they hold the name of an environment variable
and the key is read from the mapping the composition root passes in. Errors name
the variable and never a value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from neuralbridge.core.errors import ConfigError

__all__ = ["resolve_credential"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def resolve_credential(
    env: Mapping[str, str],
    name: str | None,
    *,
    default: str | None = None,
    required: bool = False,
    what: str,
    error: Callable[[str], Exception] = ConfigError,
) -> str | None:
    """Read an API key from ``env`` by the variable ``name`` (or ``default``) names.

    Args:
        env: The process environment, as the composition root read it.
        name: The variable a profile names explicitly; always required when set.
        default: The provider's conventional variable, used when ``name`` is ``None``.
        required: Whether an unset ``default`` variable is an error too.
        what: Who needs the key, for messages (``"openai embedder"``).
        error: Builds the exception to raise from a message.

    Returns:
        The key with surrounding whitespace removed, or ``None`` when no variable
        applies or an optional one is unset.

    Raises:
        Exception: built by ``error`` when ``name`` is not a variable name (it
            may hold a key: the message never repeats it) or a required variable
            is unset; the message names the variable, never a value.
    """
    variable = name or default
    if variable is None:
        return None
    if not _ENV_NAME.fullmatch(variable):
        raise error(f"{what}: 'credential' must name an environment variable, not hold a key")
    key = env.get(variable, "").strip()
    if not key and (required or name):
        raise error(f"{what} needs an API key: environment variable {variable} is not set")
    return key or None
