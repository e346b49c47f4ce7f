"""The Prometheus alert rules are well formed and name metrics the services export."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import neuralbridge.core.observability.metrics
import neuralbridge.dataset_transform.metrics
import neuralbridge.trainer.metrics  # noqa: F401 - registers the metrics the rules use

RULES = Path(__file__).resolve().parent.parent / "deploy" / "prometheus" / "alerts.yml"
PROMQL_WORDS = {
    "sum", "max", "min", "by", "or", "and", "unless", "increase", "rate", "time", "absent",
    "clamp_min", "on", "ignoring", "avg", "count",
}  # fmt: skip
BUILTIN = {"up"}
SEED_ALERTS = {
    "EmbeddingQueueBackedUp", "HighTrainingFailureRate", "CacheCleanupOverdue", "QueueBacklog",
    "HighJobFailureRate", "NoJobCompletedInLastHour", "WorkerDown",
}  # fmt: skip


SUFFIXES = {"counter": ("_total",), "histogram": ("_count", "_sum", "_bucket"), "gauge": ("",)}


def _exported() -> set[str]:
    """Every series name the registry can expose, observed yet or not."""
    return {
        metric.name + suffix
        for metric in REGISTRY.collect()
        for suffix in SUFFIXES.get(metric.type, ("",))
    }


def _metric_names(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\([a-z_, ]*\)\s*\(", " ", without_strings)
    words = set(re.findall(r"\b[a-z_][a-z0-9_]*\b", without_labels))
    return words - PROMQL_WORDS


def test_alert_rules_cover_seeds_and_name_exported_metrics() -> None:
    """Every seed alert is present, complete, and uses only metrics that exist."""
    document = yaml.safe_load(RULES.read_text())
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} == SEED_ALERTS
    exported = _exported() | BUILTIN
    for rule in rules:
        assert {"alert", "expr", "for", "labels", "annotations"} <= set(rule), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        unknown = _metric_names(rule["expr"]) - exported
        assert not unknown, f"{rule['alert']} names unknown metrics {sorted(unknown)}"
