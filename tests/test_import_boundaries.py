"""Process boundaries are import boundaries: a service process loads libraries and itself only.

Each check runs in a fresh interpreter (``subprocess``), so nothing another test
imported can hide or fake a dependency: it imports every module of one service
package and lists the ``neuralbridge`` packages that ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

#: The packages under ``services/``: each runs as its own process.
SERVICES = ("dataset_transform", "gateway", "proxy_pipeline", "scheduler", "trainer")
#: What no service may load: the CLI, and every other service.
FORBIDDEN = ("cli", *SERVICES)

_PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    root = sys.argv[1]
    names = [root]
    if sys.argv[2] == "all":
        package = importlib.import_module(root)
        names += [m.name for m in pkgutil.walk_packages(package.__path__, root + ".")]
    for name in names:
        importlib.import_module(name)
    parts = sorted({m.split(".")[1] for m in sys.modules if m.startswith("neuralbridge.")})
    print(json.dumps(parts))
    """
)


def _loaded(module: str, *, every_module: bool) -> set[str]:
    """The ``neuralbridge.<part>`` packages a fresh interpreter holds after importing ``module``."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, module, "all" if every_module else "one"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("service", SERVICES)
def test_import_service_in_fresh_interpreter_loads_no_cli_or_other_service(service: str) -> None:
    """Every module of a service imports only the libraries and the service itself."""
    loaded = _loaded(f"neuralbridge.{service}", every_module=True)
    assert service in loaded
    assert loaded & set(FORBIDDEN) == {service}, sorted(loaded)


def test_import_gateway_in_fresh_interpreter_loads_no_scheduler_or_cli() -> None:
    """``import neuralbridge.gateway`` alone pulls in neither the CLI nor the scheduler."""
    loaded = _loaded("neuralbridge.gateway", every_module=False)
    assert not loaded & {"cli", "scheduler", "trainer", "dataset_transform", "proxy_pipeline"}


def test_import_clients_in_fresh_interpreter_loads_libraries_only() -> None:
    """The library the CLI and the gateway share loads no service and no CLI code."""
    loaded = _loaded("neuralbridge.clients", every_module=True)
    assert not loaded & set(FORBIDDEN), sorted(loaded)
