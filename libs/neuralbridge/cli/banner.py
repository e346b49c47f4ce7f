"""What ``nb up`` prints once every service is started: where things are, who may call."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from neuralbridge.core.settings import CommonSettings, redact_url

__all__ = ["api_keys_state", "credentials_note", "print_banner"]

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def print_banner(
    env: dict[str, str], common: CommonSettings, metrics_port: int, notes: list[str]
) -> None:
    """Print the running stack's addresses, its auth state and ``notes`` to stderr."""
    host = "127.0.0.1" if common.bind_host in ("0.0.0.0", "::") else common.bind_host  # noqa: S104
    gateway_port = env.get("GATEWAY_PORT", "4000")
    qdrant = env.get("QDRANT_URL") or f"local mode at {env.get('QDRANT_PATH', '?')}"
    lines = [
        "",
        f"NeuralBridge is up (pid {os.getpid()}, data in {Path(common.nb_data_dir).resolve()})",
        f"  NATS JetStream  {redact_url(env['NATS_URL'])}",
        f"  PostgreSQL      {redact_url(env['DATABASE_URL'])}",
        f"  Qdrant          {qdrant}",
        f"  Gateway         http://{host}:{gateway_port}  (OpenAPI: /schema)",
        f"  Metrics/health  http://{host}:{metrics_port}/metrics  /healthz  /readyz",
        f"  API keys        {api_keys_state(env, common.bind_host)}",
        *notes,
        "Press Ctrl-C to stop (data is kept for the next `make up`).",
        "",
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)


def credentials_note(folder: Path) -> str:
    """The banner line saying where the generated credentials are (never what they are)."""
    return f"  Credentials     NATS and PostgreSQL: generated, kept 0600 in {folder}"


def api_keys_state(env: dict[str, str], bind_host: str) -> str:
    """Whether the gateway asks for API keys, and how many of each kind it knows.

    Counted from the variables and keys files themselves (the CLI does not
    import the gateway): distinct digests, a file's ``#`` comments skipped.
    """
    if env.get("GATEWAY_AUTH") == "off":
        reach = bind_host if bind_host not in _LOOPBACK else None
        who = f"anyone who can reach {reach}" if reach else "anyone on this machine"
        return (
            f"off (GATEWAY_AUTH=off: {who} may call; set GATEWAY_API_KEY_HASHES / "
            "GATEWAY_ADMIN_KEY_HASHES to turn them on)"
        )
    users = _count_keys(env, "GATEWAY_API_KEY_HASHES", "GATEWAY_API_KEYS_FILE")
    admins = _count_keys(env, "GATEWAY_ADMIN_KEY_HASHES", "GATEWAY_ADMIN_KEYS_FILE")
    return f"on (user keys: {users}, admin keys: {admins})"


def _count_keys(env: dict[str, str], hashes: str, file: str) -> int:
    """Distinct digests in a comma-separated variable and a keys file (``digest label``)."""
    digests = {h.strip().lower() for h in env.get(hashes, "").split(",") if h.strip()}
    path = env.get(file)
    if path:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            for line in Path(path).read_text(encoding="utf-8").splitlines():
                fields = line.split("#", 1)[0].split()
                if fields:
                    digests.add(fields[0].lower())
    return len(digests)
