"""A/B experiments in the pipeline: sticky variants, what they change, and the query log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nats.js.errors import NotFoundError

from neuralbridge.core.bus import Bus
from neuralbridge.core.schemas import decode, encode
from neuralbridge.core.subjects import AB_EXPERIMENTS_KV, query_log_subject
from neuralbridge.core.topology import KVSpec, declare_kv
from neuralbridge.learning.assignment import assign_variant
from neuralbridge.messages.experiments import (
    Experiment,
    ExperimentKind,
    ExperimentStatus,
    Variant,
)
from neuralbridge.messages.proxy import ProxyAnswer, QueryLogged
from tests.proxy_pipeline.conftest import Gateway
from tests.support.fake_llm import FakeLLMServer
from tests.support.waiting import eventually

QUESTION = "Who founded Acme Rockets?"
PIRATE = "Answer like a pirate, citing [source N]."


def _experiment(
    kind: ExperimentKind, treatment: Variant, status: ExperimentStatus = "running"
) -> Experiment:
    """Experiment ``exp42``: a control with the pipeline's defaults, and ``treatment``."""
    return Experiment(
        id="exp42", name="test", kind=kind, variants=[Variant(name="control"), treatment],
        status=status, started_at="2026-11-23T08:00:00+00:00",
    )  # fmt: skip


async def _publish(bus: Bus, experiment: Experiment) -> None:
    """Put the experiment in the bucket as the trainer does."""
    await declare_kv(bus.js, KVSpec(bucket=AB_EXPERIMENTS_KV, history=1))
    kv = await bus.js.key_value(AB_EXPERIMENTS_KV)
    await kv.put(experiment.id, encode(experiment))


def _sessions(experiment: Experiment, count: int = 12) -> dict[str, str]:
    """Session id → the variant the sticky hash gives it (both variants present)."""
    weights = [(v.name, v.weight) for v in experiment.variants]
    chosen = {
        f"user-{i}": assign_variant(experiment.id, f"user-{i}", weights) for i in range(count)
    }
    assert set(chosen.values()) == {v.name for v in experiment.variants}
    return chosen


async def _logged(bus: Bus, request_id: str) -> QueryLogged:
    """The request's QueryLogged event (published just after the answer)."""
    found: list[QueryLogged] = []

    async def published() -> bool:
        try:
            msg = await bus.js.get_last_msg("QUERY_LOGS", query_log_subject(request_id))
        except NotFoundError:
            return False
        found.append(decode(msg.data or b"", QueryLogged))
        return True

    await eventually(published, timeout=10)
    return found[0]


async def _answer(gateway: Gateway, session: str, **fields: Any) -> ProxyAnswer:
    replies = await gateway.ask(QUESTION, session_id=session, **fields)
    assert isinstance(replies[-1], ProxyAnswer), replies[-1]
    return replies[-1]


async def test_provider_experiment_routes_each_session_to_its_variant_and_logs_it(
    pipeline: Callable[..., Any], gateway: Gateway
) -> None:
    """Control sessions get the default model, treatment ones gpt-mini; the log names both."""
    experiment = _experiment("provider", Variant(name="mini", model="gpt-mini"))
    await _publish(gateway.bus, experiment)
    sessions = _sessions(experiment)
    async with pipeline():
        for session, variant in sessions.items():
            answer = await _answer(gateway, session)
            assert answer.model == ("gpt-mini" if variant == "mini" else "gpt-test")
            event = await _logged(gateway.bus, answer.request_id)
            assert (event.experiment, event.variant) == ("exp42", variant)
        again = await _answer(gateway, "user-0")  # sticky: same session, same variant
    assert again.model == ("gpt-mini" if sessions["user-0"] == "mini" else "gpt-test")


async def test_explicit_model_override_is_left_out_of_a_provider_experiment(
    pipeline: Callable[..., Any], gateway: Gateway
) -> None:
    """A request naming its own model keeps it and is logged without an experiment."""
    experiment = _experiment("provider", Variant(name="mini", model="gpt-mini"))
    await _publish(gateway.bus, experiment)
    session = next(s for s, v in _sessions(experiment).items() if v == "mini")
    async with pipeline():
        answer = await _answer(gateway, session, model="gpt-explicit")
        event = await _logged(gateway.bus, answer.request_id)
    assert answer.model == "gpt-explicit"
    assert (event.experiment, event.variant) == (None, None)


async def test_prompt_experiment_replaces_instructions_and_keeps_caches_apart(
    pipeline: Callable[..., Any], gateway: Gateway, primary: FakeLLMServer
) -> None:
    """The same question from each variant reaches the LLM twice, with each prompt."""
    experiment = _experiment("prompt", Variant(name="pirate", instructions=PIRATE))
    await _publish(gateway.bus, experiment)
    sessions = _sessions(experiment)
    control = next(s for s, v in sessions.items() if v == "control")
    pirate = next(s for s, v in sessions.items() if v == "pirate")
    async with pipeline():
        first = await _answer(gateway, control)
        second = await _answer(gateway, pirate)
        third = await _answer(gateway, pirate)
    assert (first.cached, second.cached, third.cached) == (False, False, True)
    systems = [r.body["messages"][0]["content"] for r in primary.requests]
    assert len(systems) == 2
    assert not systems[0].startswith(PIRATE)
    assert systems[1].startswith(PIRATE + "\n\n[source 1] Acme Rockets")


async def test_concluded_experiment_stops_being_applied(
    pipeline: Callable[..., Any], gateway: Gateway
) -> None:
    """Once the trainer marks it concluded, treatment sessions get the default model again."""
    experiment = _experiment("provider", Variant(name="mini", model="gpt-mini"))
    await _publish(gateway.bus, experiment)
    session = next(s for s, v in _sessions(experiment).items() if v == "mini")
    async with pipeline():
        assert (await _answer(gateway, session)).model == "gpt-mini"
        concluded = _experiment("provider", Variant(name="mini", model="gpt-mini"), "concluded")
        await _publish(gateway.bus, concluded)
        answers: list[ProxyAnswer] = []

        async def back_to_default() -> bool:
            answers.append(await _answer(gateway, session))
            return answers[-1].model == "gpt-test"

        await eventually(back_to_default, timeout=20)
        event = await _logged(gateway.bus, answers[-1].request_id)
    assert event.experiment is None
