"""Typed, frozen settings built once from environment variables and ``.env``.

Every setting is a field of a frozen ``msgspec.Struct`` whose upper-cased name is
the environment variable (``worker_concurrency`` ← ``WORKER_CONCURRENCY``).
Values come from the process environment, falling back to a ``.env`` file in the
working directory (or the file named by ``NB_ENV_FILE``). A missing or malformed
value raises :class:`~neuralbridge.core.errors.ConfigError` whose message is one
line naming the variable and what was expected; composition roots print it and
exit with status 2. Secrets are :class:`Secret` values whose ``repr`` is masked.
"""

from __future__ import annotations

import os
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from dotenv import dotenv_values

from neuralbridge.core.errors import ConfigError

__all__ = [
    "CommonSettings",
    "LogFormat",
    "LogLevel",
    "NatsAuth",
    "Port",
    "PositiveFloat",
    "Secret",
    "load_env",
    "load_settings",
    "nats_auth",
    "nats_servers",
    "redact_url",
]

S = TypeVar("S", bound=msgspec.Struct)

LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["json", "console"]
Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]


class Secret:
    """A string that never shows itself in ``repr``, ``str`` or logs.

    Args:
        value: The secret text. Read it back with :meth:`reveal` at the one
            place that needs it (an HTTP header, a connection string).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret text."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


class CommonSettings(msgspec.Struct, frozen=True, kw_only=True, rename="upper"):
    """Settings every service reads. Unset server URLs select the embedded default.

    ``NATS_URL`` may list several servers separated by commas. NATS credentials
    are one of ``NATS_USER`` + ``NATS_PASSWORD``, ``NATS_TOKEN`` or
    ``NATS_CREDS_FILE`` (checked by :func:`load_settings`). ``NATS_STREAM_REPLICAS``
    (1 to 5) is the replicas of every stream, KV bucket and object store, reconciled
    at start.
    """

    nats_url: str | None = None
    nats_user: str | None = None
    nats_password: Secret | None = None
    nats_token: Secret | None = None
    nats_creds_file: str | None = None
    nats_stream_replicas: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1
    database_url: Secret | None = None
    qdrant_url: str | None = None
    qdrant_api_key: Secret | None = None
    qdrant_path: str | None = None
    nb_data_dir: str = ".nb"
    log_level: LogLevel = "info"
    log_format: LogFormat = "json"
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str | None = None
    otel_service_version: str = "0.1.0"
    bind_host: str = "0.0.0.0"  # noqa: S104 - services listen on all interfaces in containers
    metrics_port: Port = 9090
    shutdown_grace_seconds: PositiveFloat = 30.0


class NatsAuth(msgspec.Struct, frozen=True, kw_only=True):
    """How to authenticate to NATS: at most one of user/password, token, creds file."""

    user: str | None = None
    password: Secret | None = None
    token: Secret | None = None
    creds_file: str | None = None

    def connect_options(self) -> dict[str, Any]:
        """The keyword arguments of ``nats.connect`` for these credentials."""
        options: dict[str, Any] = {}
        if self.user is not None and self.password is not None:
            options |= {"user": self.user, "password": self.password.reveal()}
        if self.token is not None:
            options["token"] = self.token.reveal()
        if self.creds_file is not None:
            options["user_credentials"] = self.creds_file
        return options

    def describe(self) -> str:
        """Which variables carry the credentials (for messages; never the values)."""
        if self.creds_file is not None:
            return "NATS_CREDS_FILE"
        if self.token is not None:
            return "NATS_TOKEN"
        if self.user is not None:
            return "NATS_USER/NATS_PASSWORD"
        return "none: set NATS_USER/NATS_PASSWORD, NATS_TOKEN or NATS_CREDS_FILE"


def nats_auth(settings: CommonSettings) -> NatsAuth:
    """The NATS credentials of ``settings``.

    Raises:
        ConfigError: one line naming the variable of a bad combination.
    """
    user, password = settings.nats_user, settings.nats_password
    token, creds = settings.nats_token, settings.nats_creds_file
    if user is not None and password is None:
        raise ConfigError("configuration error: NATS_USER is set but NATS_PASSWORD is not")
    if password is not None and user is None:
        raise ConfigError("configuration error: NATS_PASSWORD is set but NATS_USER is not")
    if token is not None and user is not None:
        raise ConfigError("configuration error: NATS_TOKEN cannot be combined with NATS_USER")
    if creds is not None and (token is not None or user is not None):
        raise ConfigError(
            "configuration error: NATS_CREDS_FILE cannot be combined with NATS_USER or NATS_TOKEN"
        )
    if creds is not None and not Path(creds).is_file():
        raise ConfigError(f"configuration error: NATS_CREDS_FILE={creds!r} is not a file")
    return NatsAuth(user=user, password=password, token=token, creds_file=creds)


def nats_servers(url: str) -> list[str]:
    """``NATS_URL`` split into its servers (comma-separated).

    Raises:
        ConfigError: an empty list, or a server that is not a ``nats://``,
            ``tls://``, ``ws://`` or ``wss://`` URL.
    """
    servers = [part.strip() for part in url.split(",") if part.strip()]
    if not servers:
        raise ConfigError("configuration error: NATS_URL lists no server")
    for server in servers:
        if not re.match(r"^(nats|tls|ws|wss)://[^\s/]+/?$", server):
            raise ConfigError(
                f"configuration error: NATS_URL is invalid: {redact_url(server)!r} is not "
                "a nats://host:port URL (separate several servers with commas)"
            )
    return servers


_SECRET_VALUE = re.compile(r"(?i)(key|token|secret|password)")


def load_env(env_file: str | Path | None = None) -> dict[str, str]:
    """Return the environment merged over the ``.env`` file (environment wins).

    Args:
        env_file: The dotenv file; defaults to ``$NB_ENV_FILE`` or ``./.env``.
    """
    path = Path(env_file or os.environ.get("NB_ENV_FILE", ".env"))
    merged: dict[str, str] = {}
    if path.is_file():
        merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    merged.update(os.environ)
    return merged


def load_settings(cls: type[S], env: Mapping[str, str] | None = None) -> S:
    """Build ``cls`` from environment variables.

    Args:
        cls: A frozen settings struct declared with ``rename="upper"``.
        env: The variables to read; defaults to :func:`load_env`.

    Raises:
        ConfigError: one line naming the variable and what it expected.
    """
    source = load_env() if env is None else env
    raw: dict[str, Any] = {}
    given: dict[str, str] = {}
    hints = typing.get_type_hints(cls, include_extras=True)
    for field in msgspec.structs.fields(cls):
        value = source.get(field.encode_name)
        if value is None or value == "":
            continue
        given[field.encode_name] = value
        raw[field.encode_name] = _split_if_sequence(hints[field.name], value)
    try:
        settings = msgspec.convert(raw, cls, strict=False, dec_hook=_decode_custom)
    except msgspec.ValidationError as exc:
        raise ConfigError(_explain(str(exc), given)) from None
    if isinstance(settings, CommonSettings):
        nats_auth(settings)
        if settings.nats_url:
            nats_servers(settings.nats_url)
    return settings


def redact_url(url: str) -> str:
    """Mask the password in a URL such as ``postgresql://user:pw@host/db``."""
    return re.sub(r"(?<=://)([^:/@]+):[^@/]*@", r"\1:********@", url)


def _split_if_sequence(annotation: Any, value: str) -> Any:
    """Turn ``"1,2,3"`` into a list when the field is a tuple or list."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin in (tuple, list):
        return [part.strip() for part in value.split(",") if part.strip()]
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _split_if_sequence(args[0], value)
    return value


def _decode_custom(tp: type, obj: object) -> object:
    if tp is Secret and isinstance(obj, str):
        return Secret(obj)
    raise NotImplementedError


def _explain(message: str, raw: Mapping[str, Any]) -> str:
    """Rewrite a msgspec validation message into one line about one variable."""
    missing = re.search(r"missing required field `([^`]+)`", message)
    if missing:
        return f"configuration error: {missing.group(1)} is required but not set"
    located = re.match(r"(?P<what>.*) - at `\$\.(?P<name>[A-Z0-9_]+)(?P<item>\[\d+\])?", message)
    if not located:
        return f"configuration error: {message}"
    name, what = located.group("name"), located.group("what")
    what = what.replace("Expected", "expected").replace("`", "").replace(", got str", "")
    if located.group("item"):
        what += " in every comma-separated item"
    if name in raw and not _SECRET_VALUE.search(name) and name != "DATABASE_URL":
        return f"configuration error: {name}={raw[name]!r} is invalid: {what}"
    return f"configuration error: {name} is invalid: {what}"
