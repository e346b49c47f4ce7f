"""Pipeline failures map onto HTTP statuses by their ``error_class``."""

from __future__ import annotations

import pytest

from neuralbridge.gateway.errors import error_for_failure
from neuralbridge.messages.proxy import ProxyFailure


@pytest.mark.parametrize(
    ("error_class", "status", "param"),
    [
        ("GuardrailBlocked", 422, "query"),
        ("InputRejected", 422, "query"),
        ("LLMConfigError", 400, "provider"),
        ("DeadlineExceeded", 504, None),
        ("LLMUnavailable", 502, None),
        ("InternalError", 502, None),
    ],
)
def test_failure_class_maps_to_status(error_class: str, status: int, param: str | None) -> None:
    """Client-fixable refusals are 4xx naming the field; the rest are 502/504."""
    error = error_for_failure(ProxyFailure(request_id="r", error="why", error_class=error_class))
    assert (error.status_code, error.param, error.code) == (status, param, error_class)
    assert error.message == "why"
