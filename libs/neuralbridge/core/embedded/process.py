"""Child-process plumbing shared by the embedded servers: ports and parent-death signals."""

from __future__ import annotations

import contextlib
import ctypes
import socket

__all__ = ["die_with_parent", "free_port", "port_is_free"]

_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether ``port`` can be bound on 127.0.0.1 right now."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def die_with_parent(sig: int) -> None:
    """In the child, before exec: receive ``sig`` when the parent exits."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
