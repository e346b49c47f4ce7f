"""``GET /api/proxy/health``: dependencies, services and providers, as measured.

* ``nats`` and ``postgresql``: the gateway's own connections (its readiness
  checks ``gateway.nats`` and ``gateway.postgres``).
* ``proxy_pipeline``: whether the ``proxy-pipeline`` consumer has a pull
  waiting (a live replica is taking requests).
* ``services``: every replica whose heartbeat is in
  :data:`~neuralbridge.messages.monitoring.HEARTBEATS_KV` (the bucket's TTL
  forgets a silent one), per service.
* ``primary_llm`` and ``api_b``: what the pipeline replicas measured of their
  providers (:mod:`neuralbridge.proxy_pipeline.provider_health`), from their
  answers to the stats broadcast: the latest success and failure over every
  replica, and calls and errors in the window. A provider whose latest call
  failed is ``failing`` and makes the report ``degraded``; one nobody has
  called yet is ``unknown`` and does not.
"""

from __future__ import annotations

import msgspec
import structlog
from nats.js.errors import BucketNotFoundError, NoKeysError

from neuralbridge.core.bus import Bus
from neuralbridge.core.errors import PayloadError
from neuralbridge.core.observability.http import HealthServer
from neuralbridge.core.schemas import decode
from neuralbridge.core.subjects import PROXY_REQUESTS_CONSUMER, PROXY_REQUESTS_STREAM
from neuralbridge.gateway.stats import gather_replies
from neuralbridge.messages.monitoring import HEARTBEATS_KV, Heartbeat, ProviderHealth

__all__ = ["HealthReport", "ProviderStatus", "ServiceStatus", "check_health", "read_heartbeats"]

log = structlog.get_logger()

_COMPONENTS = {"nats": "gateway.nats", "postgresql": "gateway.postgres"}
_ROLES = ("primary_llm", "api_b")


class ServiceStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Replicas of one service with a live heartbeat."""

    replicas: int
    ready_replicas: int
    last_heartbeat_at: float
    versions: list[str]


class ProviderStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One provider as the pipeline replicas measured it.

    ``status`` is ``ok`` (the latest call answered), ``failing`` (it failed),
    ``unknown`` (no replica called it yet, or none answered) or
    ``not_configured`` (the replicas that answered have no such provider). ``error_rate`` is
    errors over calls in the last ``window_seconds`` across replicas.
    """

    status: str
    provider: str | None = None
    model: str | None = None
    last_success_at: float | None = None
    last_error_at: float | None = None
    last_error_class: str | None = None
    calls: int = 0
    errors: int = 0
    error_rate: float | None = None
    window_seconds: float | None = None
    last_probe_at: float | None = None


class HealthReport(msgspec.Struct, frozen=True, kw_only=True):
    """``status`` is ``ok`` when every component is ``ok`` and no provider is failing."""

    status: str
    components: dict[str, str]
    services: dict[str, ServiceStatus]
    providers: dict[str, ProviderStatus]
    checks: dict[str, str]


async def _pipeline(bus: Bus) -> str:
    try:
        info = await bus.js.consumer_info(PROXY_REQUESTS_STREAM, PROXY_REQUESTS_CONSUMER)
    except Exception as exc:  # noqa: BLE001 - any failure is the component's status
        return f"{type(exc).__name__}: {exc}"
    return "ok" if (info.num_waiting or 0) > 0 else "no pipeline replica is pulling requests"


async def read_heartbeats(bus: Bus) -> list[Heartbeat]:
    """Every live heartbeat in the bucket (none when the bucket does not exist yet)."""
    try:
        kv = await bus.js.key_value(HEARTBEATS_KV)
        keys = await kv.keys()
    except (BucketNotFoundError, NoKeysError):
        return []
    beats: list[Heartbeat] = []
    for key in keys:
        try:
            entry = await kv.get(key)
            if entry.value:
                beats.append(decode(entry.value, Heartbeat))
        except PayloadError as exc:
            log.warning("heartbeat_rejected", key=key, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - expired or deleted between keys() and get()
            log.debug("heartbeat_gone", key=key, error_class=type(exc).__name__)
    return beats


def _services(beats: list[Heartbeat]) -> dict[str, ServiceStatus]:
    services: dict[str, ServiceStatus] = {}
    for service in sorted({beat.service for beat in beats}):
        mine = [beat for beat in beats if beat.service == service]
        services[service] = ServiceStatus(
            replicas=len(mine),
            ready_replicas=sum(1 for beat in mine if beat.ready),
            last_heartbeat_at=max(beat.sent_at for beat in mine),
            versions=sorted({beat.version for beat in mine}),
        )
    return services


def _provider(measured: list[ProviderHealth], *, answered: bool) -> ProviderStatus:
    if not measured:  # replicas answered without it: none has this provider configured
        return ProviderStatus(status="not_configured" if answered else "unknown")
    success = max((p.last_success_at for p in measured if p.last_success_at), default=None)
    failed = max(
        (p for p in measured if p.last_error_at), key=lambda p: p.last_error_at or 0, default=None
    )
    error_at = failed.last_error_at if failed else None
    if error_at is not None and (success is None or error_at > success):
        status = "failing"
    else:
        status = "ok" if success is not None else "unknown"
    calls, errors = sum(p.calls for p in measured), sum(p.errors for p in measured)
    probes = [p.last_probe_at for p in measured if p.last_probe_at]
    return ProviderStatus(
        status=status, provider=measured[0].provider, model=measured[0].model,
        last_success_at=success, last_error_at=error_at,
        last_error_class=failed.last_error_class if failed else None,
        calls=calls, errors=errors, error_rate=round(errors / calls, 4) if calls else None,
        window_seconds=measured[0].window_seconds, last_probe_at=max(probes, default=None),
    )  # fmt: skip


def _component(provider: ProviderStatus) -> str:
    if provider.status == "failing":
        return f"failing: {provider.last_error_class}"
    return provider.status


async def check_health(health: HealthServer, bus: Bus) -> HealthReport:
    """Run the gateway's checks, read heartbeats, ask the pipeline replicas; summarise."""
    checks = await health.readiness()
    components = {name: checks.get(check, "not_configured") for name, check in _COMPONENTS.items()}
    components["proxy_pipeline"] = await _pipeline(bus)
    beats = await read_heartbeats(bus)
    expected = sum(1 for beat in beats if beat.service == "proxy_pipeline")
    replies = await gather_replies(bus, expected=expected)
    providers = {
        role: _provider(
            [p for reply in replies for p in reply.providers if p.role == role],
            answered=bool(replies),
        )
        for role in _ROLES
    }
    for role, provider in providers.items():
        components[role] = _component(provider)
    ok = all(v in ("ok", "unknown", "not_configured") for v in components.values())
    ok = ok and all(v == "ok" for v in checks.values())
    return HealthReport(
        status="ok" if ok else "degraded", components=components, services=_services(beats),
        providers=providers, checks=checks,
    )  # fmt: skip
