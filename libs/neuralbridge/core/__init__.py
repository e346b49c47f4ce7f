"""The shared library every NeuralBridge service is built on.

Settings, message schemas, the NATS bus and its declared topology, the job
runner with its dead-letter queues, PostgreSQL with migrations, observability,
and the embedded servers used by ``nb up`` and the tests.
"""

from neuralbridge.core.bus import Bus
from neuralbridge.core.errors import (
    ConfigError,
    JobError,
    JobTimeoutError,
    NeuralBridgeError,
    PayloadError,
    PermanentError,
    RetryableError,
)
from neuralbridge.core.runner import Handler, JobContext, JobRunner
from neuralbridge.core.schemas import Message, decode, encode
from neuralbridge.core.settings import CommonSettings, Secret, load_settings
from neuralbridge.core.topology import KVSpec, WorkSpec, declare_kv, declare_work, work_spec

__all__ = [
    "Bus",
    "CommonSettings",
    "ConfigError",
    "Handler",
    "JobContext",
    "JobError",
    "JobRunner",
    "JobTimeoutError",
    "KVSpec",
    "Message",
    "NeuralBridgeError",
    "PayloadError",
    "PermanentError",
    "RetryableError",
    "Secret",
    "WorkSpec",
    "declare_kv",
    "declare_work",
    "decode",
    "encode",
    "load_settings",
    "work_spec",
]
