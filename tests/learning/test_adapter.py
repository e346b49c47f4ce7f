"""The query adapter's math: it learns to undo a topic confusion, and is measured honestly."""

from __future__ import annotations

import numpy as np
import pytest

from neuralbridge.learning.adapter import (
    AdapterConfig,
    AdapterTrainer,
    PairSet,
    adapt_queries,
    decode_adapter,
    encode_adapter,
    evaluate,
    split_keys,
)
from tests.learning.topic_corpus import TopicCorpus, confusing_corpus


def _split(corpus: TopicCorpus, seed: int = 0) -> tuple[list[int], list[int]]:
    train, held = split_keys([q.text for q in corpus.queries], 0.25, seed)
    index = {q.text: i for i, q in enumerate(corpus.queries)}
    return [index[t] for t in train], [index[t] for t in held]


def _pairs(corpus: TopicCorpus, rows: list[int]) -> PairSet:
    return PairSet(
        queries=np.asarray([corpus.queries[i].vector for i in rows]),
        chunks=corpus.chunk_matrix(),
        positive=np.asarray([corpus.queries[i].chunk for i in rows], dtype=np.int64),
        group=np.arange(len(rows), dtype=np.int64),
    )


def _heldout(corpus: TopicCorpus, rows: list[int]) -> tuple[np.ndarray, list[frozenset[int]]]:
    queries = np.asarray([corpus.queries[i].vector for i in rows])
    return queries, [frozenset({corpus.queries[i].chunk}) for i in rows]


def _train(pairs: PairSet, config: AdapterConfig) -> AdapterTrainer:
    trainer = AdapterTrainer(pairs, config)
    for _ in range(config.epochs):
        trainer.epoch()
    return trainer


def test_base_embedding_ranks_every_other_topic_chunk_above_the_answer() -> None:
    """The generated corpus really confuses the topics: the base top 5 never holds the answer."""
    corpus = confusing_corpus()
    chunks = corpus.chunk_matrix()
    for q in corpus.queries:
        scores = chunks @ np.asarray(q.vector)
        other = [s for s, t in zip(scores, corpus.chunk_topics, strict=True) if t != q.topic]
        assert min(other) > scores[q.chunk]


def test_adapter_fixes_the_confusion_on_held_out_queries() -> None:
    """Held-out recall@5 and MRR@10 go from near 0 to near 1 (by a wide margin)."""
    corpus = confusing_corpus()
    train, held = _split(corpus)
    queries, relevant = _heldout(corpus, held)
    trainer = _train(_pairs(corpus, train), AdapterConfig())
    before = evaluate(None, queries, relevant, corpus.chunk_matrix())
    after = evaluate(trainer.weights, queries, relevant, corpus.chunk_matrix())
    assert before.queries == after.queries == len(held) == 30
    assert before.recall_at_5 == 0.0
    assert before.mrr_at_10 < 0.1
    assert after.recall_at_5 >= before.recall_at_5 + 0.8
    assert after.mrr_at_10 >= before.mrr_at_10 + 0.7
    assert trainer.losses[-1] < trainer.losses[0]


def test_training_is_deterministic_for_a_seed() -> None:
    """Same data and seed, same weights, bit for bit."""
    corpus = confusing_corpus()
    pairs = _pairs(corpus, _split(corpus)[0])
    config = AdapterConfig(epochs=5)
    np.testing.assert_array_equal(_train(pairs, config).weights, _train(pairs, config).weights)


def test_strong_regularisation_keeps_the_identity() -> None:
    """A huge λ pins W to the identity (the same run without it moves W far away)."""
    corpus = confusing_corpus()
    train, held = _split(corpus)
    pinned = _train(_pairs(corpus, train), AdapterConfig(l2=1e3)).weights
    free = _train(_pairs(corpus, train), AdapterConfig(l2=0.0)).weights
    identity = np.eye(len(pinned))
    assert np.abs(pinned - identity).max() < 0.01
    assert np.abs(free - identity).max() > 0.2
    queries, relevant = _heldout(corpus, held)
    assert evaluate(pinned, queries, relevant, corpus.chunk_matrix()).recall_at_5 == 0.0


def test_same_query_positives_are_not_negatives_of_each_other() -> None:
    """Two chunks cited for one query: its loss can reach ~0 with both ranked first."""
    chunks = np.eye(3)
    query = np.asarray([[1.0, 1.0, 0.0]]) / np.sqrt(2)
    pairs = PairSet(
        queries=np.vstack([query, query]), chunks=chunks,
        positive=np.asarray([0, 1]), group=np.asarray([0, 0]),
    )  # fmt: skip
    trainer = AdapterTrainer(pairs, AdapterConfig(epochs=1, temperature=0.01, l2=0.0))
    # Without the mask the best possible loss would be log 2 per pair.
    assert trainer.epoch() < 0.01


def test_metrics_match_a_hand_computed_ranking() -> None:
    """recall@5 averages shares of relevant chunks; MRR@10 uses the first relevant rank."""
    corpus = np.asarray([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0]])
    queries = np.asarray([[1.0, 0.0], [0.0, 1.0]])
    # query 0 ranks 0,1,2,3: relevant {1} at rank 2 → RR 1/2, recall 1
    # query 1 ranks 3,2,1,0: relevant {0, 2} at ranks 2 and 4 → RR 1/2, recall 1
    metrics = evaluate(None, queries, [frozenset({1}), frozenset({0, 2})], corpus)
    assert metrics.mrr_at_10 == pytest.approx(0.5)
    assert metrics.recall_at_5 == pytest.approx(1.0)
    far = np.vstack([corpus, np.tile([[1.0, 0.0]], (10, 1))])
    # ten copies of query 0 itself now precede chunk 1, which falls past rank 10
    assert evaluate(None, queries[:1], [frozenset({1})], far).mrr_at_10 == 0.0


def test_adapted_queries_are_unit_length() -> None:
    """q' = W q / |W q|."""
    weights = np.diag([2.0, 0.5])
    adapted = adapt_queries(weights, np.asarray([[3.0, 4.0]]))
    np.testing.assert_allclose(adapted, [[6.0 / np.hypot(6, 2), 2.0 / np.hypot(6, 2)]])


def test_split_is_deterministic_disjoint_and_never_empty() -> None:
    """Same seed, same split; every key on exactly one side; both sides non-empty."""
    keys = [f"q{i}" for i in range(10)]
    train, held = split_keys(keys, 0.2, seed=3)
    assert (train, held) == split_keys(list(reversed(keys)), 0.2, seed=3)
    assert sorted(train + held) == sorted(keys)
    assert len(held) == 2
    assert split_keys(["a", "b"], 0.01, seed=0)[1] != []
    with pytest.raises(ValueError, match="holdout fraction"):
        split_keys(keys, 1.0, seed=0)


def test_artifact_round_trips_and_rejects_garbage() -> None:
    """``.npy`` bytes back to the matrix; anything else is refused with a reason."""
    weights = np.arange(9, dtype=np.float64).reshape(3, 3)
    np.testing.assert_array_equal(decode_adapter(encode_adapter(weights), 3), weights)
    with pytest.raises(ValueError, match="expected 4"):
        decode_adapter(encode_adapter(weights), 4)
    with pytest.raises(ValueError, match="square"):
        decode_adapter(encode_adapter(np.zeros((2, 3))))
    with pytest.raises(ValueError, match="not an adapter"):
        decode_adapter(b"not numpy")


def test_bad_config_and_data_are_refused_by_name() -> None:
    """Out-of-range knobs and misshapen data fail with what was wrong."""
    with pytest.raises(ValueError, match="epochs, temperature"):
        AdapterConfig(epochs=0, temperature=0)
    with pytest.raises(ValueError, match="chunk vectors"):
        PairSet(queries=np.zeros((1, 3)), chunks=np.zeros((2, 4)),
                positive=np.zeros(1, dtype=np.int64), group=np.zeros(1, dtype=np.int64),
        )  # fmt: skip
    with pytest.raises(ValueError, match="outside the chunk pool"):
        PairSet(queries=np.zeros((1, 3)), chunks=np.zeros((2, 3)),
                positive=np.asarray([5]), group=np.zeros(1, dtype=np.int64))  # fmt: skip
