"""The ports a process listens on: checked before anything starts, one clear line when taken.

Every ``*_PORT`` setting of a service (``METRICS_PORT``, ``GATEWAY_PORT``) is a
port it listens on. :func:`ensure_ports_free` binds each one for a moment before
the process connects anywhere, so a port already in use stops the start at once
with a :class:`~neuralbridge.core.errors.ConfigError` that names the setting;
:func:`port_error` words the same error for a bind that fails later (a race).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping

import msgspec

from neuralbridge.core.errors import ConfigError

__all__ = ["ensure_ports_free", "listening_ports", "port_error"]


def listening_ports(settings_type: type[msgspec.Struct], env: Mapping[str, str]) -> dict[str, int]:
    """``{SETTING_NAME: port}`` for every ``*_PORT`` setting of ``settings_type`` in ``env``.

    Read without building the settings (that validates everything else, and
    comes later); a value that is not a number is left to that validation, and
    0 ("any free port") is left out.
    """
    ports: dict[str, int] = {}
    for field in msgspec.structs.fields(settings_type):
        if not field.name.endswith("_port"):
            continue
        raw = env.get(field.encode_name) or field.default
        try:
            port = int(raw)
        except (TypeError, ValueError):
            continue
        if port != 0:
            ports[field.encode_name] = port
    return ports


def port_error(host: str, port: int, setting: str, exc: OSError) -> ConfigError:
    """The one-line error for ``setting``'s port that could not be bound."""
    if exc.errno == errno.EADDRINUSE:
        reason = "already in use by another process"
    elif exc.errno == errno.EACCES:
        reason = "permission denied (ports below 1024 need privileges)"
    else:
        reason = exc.strerror or type(exc).__name__
    return ConfigError(
        f"configuration error: {setting}={port}: cannot listen on {host}:{port}: {reason}; "
        f"stop what holds it or set {setting} to a free port"
    )


def ensure_ports_free(host: str, ports: Mapping[str, int]) -> None:
    """Bind and release each port on ``host``.

    Raises:
        ConfigError: a port is taken (or not allowed); the message names its setting.
    """
    for setting, port in ports.items():
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
            with socket.create_server((host, port), family=family):
                pass
        except socket.gaierror as exc:
            raise ConfigError(
                f"configuration error: BIND_HOST={host!r} is not an address of this host ({exc})"
            ) from None
        except OSError as exc:
            raise port_error(host, port, setting, exc) from None
