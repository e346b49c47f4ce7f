"""One RAG training run's arrays: training pairs, held-out queries, evaluation corpus.

The split is by query group (:func:`~neuralbridge.learning.adapter.split_keys`,
fixed seed): no query of the held-out set, in any phrasing that folds to the
same key, is trained on. Queries with only negatives train (their chunks join
the candidate pool as hard negatives) but are never held out: they have
nothing to find. The training pool is every chunk of the training groups;
the evaluation corpus is every chunk the window's answers cited plus up to
``eval_corpus_limit`` points of the collection, so the held-out queries
compete against the whole knowledge base (or a large part of it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import structlog
from qdrant_client import AsyncQdrantClient

from neuralbridge.embedders import Embedder
from neuralbridge.learning.adapter import Matrix, PairSet, RetrievalMetrics, evaluate, split_keys
from neuralbridge.trainer import rag_store
from neuralbridge.trainer.errors import CancelRunError, InsufficientDataError
from neuralbridge.trainer.rag_data import (
    ChunkVectors,
    QueryGroup,
    embed_queries,
    fetch_chunk_vectors,
    group_pairs,
    sample_collection,
)
from neuralbridge.trainer.runs import RunContext

__all__ = ["NEGATIVE_SCORE", "POSITIVE_SCORE", "RagDataset", "build_dataset"]

log = structlog.get_logger()

#: Feedback scores that make positive (>=) and negative (<=) pairs (seed 000's "positive" is 4+).
POSITIVE_SCORE = 4
NEGATIVE_SCORE = 2


@dataclass(frozen=True, slots=True)
class RagDataset:
    """Training pairs and the held-out evaluation of one run."""

    collection: str
    pairs: PairSet
    heldout_queries: Matrix
    heldout_relevant: list[frozenset[int]]
    corpus: Matrix
    counts: dict[str, int]

    @property
    def dimensions(self) -> int:
        """The embedding size."""
        return int(self.corpus.shape[1])

    def evaluate(self, weights: Matrix | None) -> RetrievalMetrics:
        """recall@5 / MRR@10 of the held-out queries with ``weights`` (``None``: base)."""
        return evaluate(weights, self.heldout_queries, self.heldout_relevant, self.corpus)


async def build_dataset(
    run: RunContext, qdrant: AsyncQdrantClient, embedder: Embedder, *, collection: str,
    since: datetime, until: datetime, min_samples: int, holdout_fraction: float, seed: int,
    eval_corpus_limit: int,
) -> RagDataset:  # fmt: skip
    """Collect, count, fetch, embed and split (progress 0 → 20).

    Raises:
        InsufficientDataError: fewer than ``min_samples`` pairs, or fewer than two
            queries with a positive chunk still in Qdrant.
    """
    rows = await rag_store.feedback_rows(run.pool, since, until, positive=POSITIVE_SCORE,
                                         negative=NEGATIVE_SCORE)  # fmt: skip
    groups = group_pairs(rows, collection, positive=POSITIVE_SCORE, negative=NEGATIVE_SCORE)
    positive = sum(len(g.positives) for g in groups)
    negative = sum(len(g.negatives) for g in groups)
    if positive + negative < min_samples:
        raise InsufficientDataError(
            f"insufficient training pairs: {positive + negative} ({positive} positive, "
            f"{negative} negative) in {collection!r} since {since.isoformat()}; at least "
            f"{min_samples} needed (RAG_TRAINING_MIN_SAMPLES)"
        )
    await run.progress(5.0, f"grouped {positive + negative} pairs of {len(groups)} queries")
    vectors = ChunkVectors()
    cited = {p for g in groups for p in (*g.positives, *g.negatives)}
    await fetch_chunk_vectors(qdrant, collection, cited, vectors)
    missing = len(cited) - len(vectors.ids)
    for g in groups:
        g.positives &= vectors.index.keys()
        g.negatives &= vectors.index.keys()
    await run.progress(10.0, "chunk vectors read")
    answerable = [g.key for g in groups if g.positives]
    if len(answerable) < 2:
        raise InsufficientDataError(
            f"insufficient training pairs: {len(answerable)} queries with a positive chunk "
            f"still in {collection!r}; at least 2 are needed to hold some out"
        )
    _, held_keys = split_keys(answerable, holdout_fraction, seed)
    held = set(held_keys)
    train_groups = [g for g in groups if g.key not in held]
    held_groups = [g for g in groups if g.key in held]
    query_vectors = await embed_queries(embedder, [g.query for g in (*train_groups, *held_groups)])
    _check_dimensions(query_vectors, vectors.matrix(), collection)
    await run.progress(15.0, "queries embedded")
    await sample_collection(qdrant, collection, len(vectors.ids) + eval_corpus_limit, vectors)
    dataset = _assemble(collection, vectors, train_groups, held_groups, query_vectors)
    dataset.counts.update(positive=positive, negative=negative, total=positive + negative,
                          queries=len(groups), missing_chunks=missing)  # fmt: skip
    await run.progress(20.0, f"{dataset.counts['train_pairs']} training pairs")
    return dataset


def _check_dimensions(queries: Matrix, chunks: Matrix, collection: str) -> None:
    if queries.shape[1] != chunks.shape[1]:
        raise CancelRunError(
            f"the query embedder (RAG_EMBEDDER_*) makes {queries.shape[1]}-dimensional "
            f"vectors but {collection!r} holds {chunks.shape[1]}-dimensional ones; "
            "configure the embedder that built the collection"
        )


def _assemble(
    collection: str, vectors: ChunkVectors, train: list[QueryGroup], held: list[QueryGroup],
    query_vectors: Matrix,
) -> RagDataset:  # fmt: skip
    corpus = vectors.matrix()
    pool_ids = sorted({p for g in train for p in (*g.positives, *g.negatives)},
                      key=vectors.index.__getitem__)  # fmt: skip
    pool_index = {p: i for i, p in enumerate(pool_ids)}
    rows, positives, group_ids = [], [], []
    for gi, group in enumerate(train):
        for p in sorted(group.positives, key=vectors.index.__getitem__):
            rows.append(gi)
            positives.append(pool_index[p])
            group_ids.append(gi)
    pairs = PairSet(
        queries=query_vectors[np.asarray(rows, dtype=np.int64)] if rows else query_vectors[:0],
        chunks=corpus[[vectors.index[p] for p in pool_ids]],
        positive=np.asarray(positives, dtype=np.int64),
        group=np.asarray(group_ids, dtype=np.int64),
    )
    held_rows = query_vectors[len(train) :]
    relevant = [frozenset(vectors.index[p] for p in g.positives) for g in held]
    counts = {"train_pairs": len(rows), "train_queries": len(train),
              "heldout_queries": len(held), "corpus": len(corpus)}  # fmt: skip
    return RagDataset(collection=collection, pairs=pairs, heldout_queries=held_rows,
                      heldout_relevant=relevant, corpus=corpus, counts=counts)  # fmt: skip
