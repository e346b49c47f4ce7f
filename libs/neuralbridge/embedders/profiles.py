"""Named embedder profiles: the endpoints and keys an operator configured.

Callers choose an embedder by NAME; only the serving process's configuration
says where a name's requests go and which environment variable holds its key,
so no caller can send an operator's key (or a document) anywhere else. Names
come from two places:

* one default per provider, from the standard variables: ``openai``
  (``OPENAI_API_KEY``, the public endpoint), ``cohere`` (``COHERE_API_KEY``),
  ``jina`` (``JINA_API_KEY``), ``voyage`` (``VOYAGE_API_KEY``), ``ollama``
  (``OLLAMA_BASE_URL``, no key) and ``local`` (``all-MiniLM-L6-v2``, offline);
* ``EMBEDDER_PROFILES_FILE``: one TOML or JSON file with a table per name under
  ``profiles``; an entry replaces a default of the same name, and ``tei`` or
  ``openai_compatible`` profiles (they need a ``base_url``) exist only there::

      [profiles.docs-openai]
      provider = "openai"
      model = "text-embedding-3-large"
      dimensions = 1024
      credential = "DOCS_OPENAI_API_KEY"   # the variable's NAME, never a key

A file that cannot be read or holds a bad entry is a
:class:`~neuralbridge.core.errors.ConfigError` with one line naming the file,
the profile and what was wrong; a key never appears in the file.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec

from neuralbridge.core.errors import ConfigError
from neuralbridge.core.providers.http import checked_base_url
from neuralbridge.embedders.errors import UnknownEmbedderProfileError
from neuralbridge.embedders.profile import EmbedderProfile

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES_FILE_VARIABLE",
    "PROFILE_NAME_PATTERN",
    "EmbedderProfiles",
    "default_profiles",
    "load_profiles",
]

#: What a profile name may look like (it travels in messages and error bodies).
PROFILE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
#: The variable naming the operator's profiles file.
PROFILES_FILE_VARIABLE = "EMBEDDER_PROFILES_FILE"
#: The profile used when a caller names none: the offline local model.
DEFAULT_PROFILE = "local"

_NAME = re.compile(PROFILE_NAME_PATTERN)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELDS = frozenset(f.encode_name for f in msgspec.structs.fields(EmbedderProfile))
_NEEDS_BASE_URL = frozenset({"tei", "openai_compatible"})
_OLLAMA_DEFAULT_URL = "http://localhost:11434"


class EmbedderProfiles:
    """The profiles one process serves, by name.

    Args:
        profiles: Name → profile (already validated).
    """

    def __init__(self, profiles: Mapping[str, EmbedderProfile]) -> None:
        self._profiles = dict(profiles)

    def __contains__(self, name: object) -> bool:
        return name in self._profiles

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._profiles)

    def names(self) -> list[str]:
        """Every configured name, sorted (safe to show callers: no URLs, no variables)."""
        return sorted(self._profiles)

    def get(self, name: str) -> EmbedderProfile:
        """The profile called ``name``.

        Raises:
            UnknownEmbedderProfileError: no such name; the message lists the names.
        """
        profile = self._profiles.get(name)
        if profile is None:
            shown = name if _NAME.fullmatch(name) else "(invalid name)"
            raise UnknownEmbedderProfileError(
                f"unknown embedder profile {shown!r}; configured: {', '.join(self.names())}"
            )
        return profile


def default_profiles(env: Mapping[str, str]) -> dict[str, EmbedderProfile]:
    """One profile per provider that needs no base URL, from the standard variables."""
    ollama_url = env.get("OLLAMA_BASE_URL", "").strip() or _OLLAMA_DEFAULT_URL
    return {
        "openai": EmbedderProfile(
            provider="openai", model="text-embedding-3-small", credential="OPENAI_API_KEY"
        ),
        "cohere": EmbedderProfile(
            provider="cohere", model="embed-english-v3.0", credential="COHERE_API_KEY"
        ),
        "jina": EmbedderProfile(
            provider="jina", model="jina-embeddings-v3", credential="JINA_API_KEY"
        ),
        "voyage": EmbedderProfile(
            provider="voyage", model="voyage-3.5", credential="VOYAGE_API_KEY"
        ),
        "ollama": EmbedderProfile(provider="ollama", model="nomic-embed-text", base_url=ollama_url),
        "local": EmbedderProfile(provider="local", model="all-MiniLM-L6-v2"),
    }


def load_profiles(env: Mapping[str, str]) -> EmbedderProfiles:
    """The defaults, overridden and extended by ``EMBEDDER_PROFILES_FILE`` when set.

    Args:
        env: The process environment, as the composition root read it.

    Raises:
        ConfigError: the file is missing, unreadable, malformed, or an entry is
            invalid; one line naming the file and the profile.
    """
    profiles = default_profiles(env)
    path = env.get(PROFILES_FILE_VARIABLE, "").strip()
    if path:
        profiles.update(_read_file(Path(path), env))
    return EmbedderProfiles(profiles)


def _read_file(path: Path, env: Mapping[str, str]) -> dict[str, EmbedderProfile]:
    where = f"configuration error: {PROFILES_FILE_VARIABLE}={path}"
    raw = _parse(path, where)
    if (
        not isinstance(raw, dict)
        or set(raw) != {"profiles"}
        or not isinstance(raw["profiles"], dict)
    ):
        raise ConfigError(f"{where}: expected a 'profiles' table of name -> profile, nothing else")
    return {
        str(name): _entry(str(name), entry, env, where) for name, entry in raw["profiles"].items()
    }


def _parse(path: Path, where: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(f"{where}: cannot read the file ({reason})") from None
    try:
        if path.suffix.lower() == ".toml":
            return tomllib.loads(text)
        if path.suffix.lower() == ".json":
            return json.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise ConfigError(f"{where}: not valid {path.suffix[1:].upper()}: {exc}") from None
    raise ConfigError(f"{where}: the file must end in .toml or .json")


def _entry(name: str, entry: object, env: Mapping[str, str], where: str) -> EmbedderProfile:
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: profile name {name!r} must be 1-64 letters, digits, '_', '.' or '-'"
        )
    where = f"{where}: profile {name!r}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table of provider, model, base_url, ...")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        hint = " (name the variable in 'credential')" if "api_key" in unknown else ""
        raise ConfigError(f"{where}: unknown field(s) {unknown}{hint}; known: {sorted(_FIELDS)}")
    try:
        profile = msgspec.convert(entry, EmbedderProfile)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    _check(profile, env, where)
    return profile


def _check(profile: EmbedderProfile, env: Mapping[str, str], where: str) -> None:
    if profile.base_url is not None or profile.provider in _NEEDS_BASE_URL:
        checked_base_url(
            profile.provider, profile.base_url, error=lambda m: ConfigError(f"{where}: {m}")
        )
    credential = profile.credential
    if credential is None:
        return
    if not _ENV_NAME.fullmatch(credential):
        raise ConfigError(f"{where}: 'credential' must name an environment variable")
    if not env.get(credential, "").strip():
        raise ConfigError(f"{where}: environment variable {credential} (its key) is not set")
