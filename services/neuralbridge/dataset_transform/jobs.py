"""What a :class:`TransformJob` covers: seed 000's EmbedJob operations as a scope."""

from __future__ import annotations

from neuralbridge.core.errors import PermanentError
from neuralbridge.dataset_transform.store import Scope
from neuralbridge.messages.datasets import TransformJob

__all__ = ["describe", "scope_of"]


def scope_of(job: TransformJob, dataset: str) -> Scope:
    """The chunks ``job`` covers in ``dataset`` (all, one document, or one chunk of it).

    Raises:
        PermanentError: the operation lacks the source file or chunk index it needs.
    """
    if job.operation == "dataset":
        return Scope(dataset)
    if not job.source_file:
        raise PermanentError(f"operation {job.operation!r} needs source_file")
    if job.operation == "chunk":
        if job.chunk_index is None:
            raise PermanentError("operation 'chunk' needs chunk_index")
        return Scope(dataset, job.source_file, job.chunk_index)
    return Scope(dataset, job.source_file)


def describe(job: TransformJob) -> str:
    """What the job covers, in words, for error messages."""
    where = f"dataset {job.dataset!r}"
    if job.operation != "dataset":
        where += f" document {job.source_file!r}"
    if job.operation == "chunk":
        where += f" chunk {job.chunk_index}"
    return where
