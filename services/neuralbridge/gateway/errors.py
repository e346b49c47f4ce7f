"""What the gateway answers when a request does not end in an answer.

::

    NeuralBridgeError                 (neuralbridge.core.errors)
    └── GatewayError                  500 server_error
        ├── InvalidRequestError      400 invalid_request_error (malformed JSON, bad field,
        │                                a provider override the deployment cannot serve)
        ├── UnauthenticatedError     401 authentication_error (missing or unknown API key)
        ├── ForbiddenError           403 permission_error (a user key on an admin route)
        ├── UnknownRequestError      404 not_found_error (feedback on an unanswered request)
        ├── RequestRejectedError     422 invalid_request_error (GuardrailBlocked, InputRejected)
        ├── RateLimitedError         429 rate_limit_error, with ``Retry-After``
        ├── UpstreamFailedError      502 api_error (no provider answered, pipeline error)
        ├── UpstreamUnavailableError 503 api_error (no pipeline reachable over NATS)
        └── UpstreamTimeoutError     504 timeout (the request's deadline passed)

Every error, Litestar's own included (404, 405, 413, validation), is sent in
OpenAI's error shape ``{"error": {"message", "type", "param", "code"}}`` on
every route, so the ``openai`` SDK raises its typed errors and REST clients get
one shape to parse. Messages are safe to show: never a secret, never the query.
"""

from __future__ import annotations

from neuralbridge.core.errors import NeuralBridgeError
from neuralbridge.messages.proxy import ProxyFailure

__all__ = [
    "ForbiddenError",
    "GatewayError",
    "InvalidRequestError",
    "RateLimitedError",
    "RequestRejectedError",
    "UnauthenticatedError",
    "UnknownRequestError",
    "UpstreamFailedError",
    "UpstreamTimeoutError",
    "UpstreamUnavailableError",
    "error_for_failure",
]


class GatewayError(NeuralBridgeError):
    """Base of the gateway's errors; each class carries its HTTP status.

    Args:
        message: Safe to send to the client.
        code: A machine-readable code (the pipeline's ``error_class`` when it has one).
        param: The request field at fault, if any.
    """

    status_code = 500
    error_type = "server_error"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param

    def headers(self) -> dict[str, str]:
        """Extra response headers."""
        return {}


class InvalidRequestError(GatewayError):
    """The request is malformed or a field is invalid."""

    status_code = 400
    error_type = "invalid_request_error"


class UnauthenticatedError(GatewayError):
    """No API key, or one the gateway does not know."""

    status_code = 401
    error_type = "authentication_error"

    def headers(self) -> dict[str, str]:
        """Tell the client which scheme to use."""
        return {"WWW-Authenticate": "Bearer"}


class ForbiddenError(GatewayError):
    """The key is valid but its role does not allow the route (a user key on an admin route)."""

    status_code = 403
    error_type = "permission_error"


class UnknownRequestError(GatewayError):
    """The request id names no answered request."""

    status_code = 404
    error_type = "not_found_error"


class RequestRejectedError(GatewayError):
    """The pipeline refused the query (prompt injection, empty or too long)."""

    status_code = 422
    error_type = "invalid_request_error"


class RateLimitedError(GatewayError):
    """A key's or a session's token bucket is empty.

    Args:
        message: Which limit was hit.
        retry_after: Whole seconds until a token is available.
    """

    status_code = 429
    error_type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, code="rate_limit_exceeded")
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        """``Retry-After`` in seconds."""
        return {"Retry-After": str(self.retry_after)}


class UpstreamFailedError(GatewayError):
    """The pipeline answered with a failure no client change can fix."""

    status_code = 502
    error_type = "api_error"


class UpstreamUnavailableError(GatewayError):
    """The request could not be handed to the pipeline (NATS down, stream missing)."""

    status_code = 503
    error_type = "api_error"


class UpstreamTimeoutError(GatewayError):
    """No final reply before the request's deadline."""

    status_code = 504
    error_type = "timeout"


_REJECTED = frozenset({"GuardrailBlocked", "InputRejected"})
#: The request's provider/model override cannot be served by this deployment.
_UNSERVABLE = "LLMConfigError"


def error_for_failure(failure: ProxyFailure) -> GatewayError:
    """The gateway error for a pipeline :class:`ProxyFailure`, by its ``error_class``."""
    if failure.error_class in _REJECTED:
        return RequestRejectedError(failure.error, code=failure.error_class, param="query")
    if failure.error_class == _UNSERVABLE:
        return InvalidRequestError(failure.error, code=failure.error_class, param="provider")
    if failure.error_class == "DeadlineExceeded":
        return UpstreamTimeoutError(failure.error, code=failure.error_class)
    return UpstreamFailedError(failure.error, code=failure.error_class)
