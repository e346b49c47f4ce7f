"""What the CLI and the gateway both ask of the services, over NATS only.

A library package: it imports ``neuralbridge.core`` and ``neuralbridge.messages``,
never the CLI or a service, so a service process that uses it loads no other
service. :mod:`neuralbridge.clients.datasets` publishes ingest and transform
jobs, reads their state and asks the dataset-transform worker;
:mod:`neuralbridge.clients.jobs` asks the trainer. Errors (see ``_requests``)::

    ClientError
    ├── ServiceUnavailableError     no responder, or none in time
    │   └── TrainerUnavailableError
    ├── RemoteError                 the service answered with an ErrorReply
    └── StateUnavailableError       a KV bucket or object store does not exist yet
"""

from __future__ import annotations

from neuralbridge.clients._requests import (
    ClientError,
    RemoteError,
    ServiceUnavailableError,
    StateUnavailableError,
    ask,
)
from neuralbridge.clients.jobs import TrainerUnavailableError

__all__ = [
    "ClientError",
    "RemoteError",
    "ServiceUnavailableError",
    "StateUnavailableError",
    "TrainerUnavailableError",
    "ask",
]
