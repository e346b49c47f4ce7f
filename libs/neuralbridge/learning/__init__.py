"""The learning loop's shared algorithms, one module each (imported by their full name).

* :mod:`neuralbridge.learning.ab` — A/B test statistics (fixed-horizon tests,
  sample-ratio check, always-valid sequential test).
* :mod:`neuralbridge.learning.assignment` — sticky variant assignment.
* :mod:`neuralbridge.learning.adapter` — the query-side RAG adapter.
* :mod:`neuralbridge.learning.prompts` — prompt optimization.

Nothing is imported here, so a service that needs one module (the proxy
pipeline needs only the assignment) does not load the others' dependencies.
"""

from __future__ import annotations

__all__: list[str] = []
