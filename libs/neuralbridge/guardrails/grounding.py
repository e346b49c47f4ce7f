"""How much of an answer its sources support.

Tokens. Text is case-folded, accents are removed, and it is split into runs of
letters and digits. Stopwords (English and Portuguese) and one-letter tokens
are dropped; each remaining word is reduced to a crude stem by removing one
common English or Portuguese suffix (``-ções``, ``-mente``, ``-ing``, ``-s``...)
while at least four characters remain. Numbers are kept as they are. These
are the *content tokens*.

Score. With ``A`` the answer's content tokens (with repeats), ``S`` the set of
content tokens over all sources, and the answer split into sentences at ``.``,
``!``, ``?``, ``…`` and line breaks::

    coverage = |{t in A : t in S}| / |A|
    support  = share of answer sentences (those with content tokens) of which
               at least half the content tokens occur in one single source
    grounding = 0.5 * coverage + 0.5 * support

Coverage rewards vocabulary taken from the sources; support rewards sentences
that each trace back to one source rather than mixing words from everywhere.
Grounding is 0.0 when there are no sources, or when the answer has no content
tokens. The result is rounded to 6 decimals and fully deterministic.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Final

from neuralbridge.guardrails.stopwords import STOPWORDS

__all__ = ["content_tokens", "grounding_score"]

_WORD: Final = re.compile(r"[^\W_]+")
_SENTENCE: Final = re.compile(r"[^.!?…\n]+")
_SUFFIXES: Final = (
    "amente", "mente", "coes", "cao", "soes", "sao", "idades", "idade", "ncias", "ncia",
    "ations", "ation", "ings", "ing", "ness", "ment", "ments", "edly", "ies", "ied",
    "es", "ed", "ly", "s", "y",
)  # fmt: skip
_MIN_STEM: Final = 4
_SUPPORTED_SHARE: Final = 0.5


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _stem(word: str) -> str:
    if word.isdigit():
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            return word[: -len(suffix)]
    return word


def content_tokens(text: str) -> list[str]:
    """The stemmed content tokens of ``text``, in order, with repeats.

    Args:
        text: English or Portuguese text.

    Returns:
        Folded, stemmed words that are not stopwords and longer than one
        character (numbers of any length are kept).
    """
    words = _WORD.findall(_fold(text))
    return [
        _stem(word) for word in words if word not in STOPWORDS and (len(word) > 1 or word.isdigit())
    ]


def _sentence_supported(tokens: list[str], sources: list[frozenset[str]]) -> bool:
    needed = len(tokens) * _SUPPORTED_SHARE
    return any(sum(token in source for token in tokens) >= needed for source in sources)


def grounding_score(answer: str, sources: Sequence[str]) -> float:
    """How much of ``answer`` is supported by ``sources``, 0..1.

    Args:
        answer: The model's answer.
        sources: The passages the answer should rest on (RAG context).

    Returns:
        ``0.5 * coverage + 0.5 * support`` as defined in the module docstring.
    """
    source_sets = [frozenset(content_tokens(source)) for source in sources]
    source_sets = [tokens for tokens in source_sets if tokens]
    answer_tokens = content_tokens(answer)
    if not source_sets or not answer_tokens:
        return 0.0
    union = frozenset().union(*source_sets)
    coverage = sum(token in union for token in answer_tokens) / len(answer_tokens)
    sentences = [content_tokens(part) for part in _SENTENCE.findall(answer)]
    sentences = [tokens for tokens in sentences if tokens]
    supported = sum(_sentence_supported(tokens, source_sets) for tokens in sentences)
    support = supported / len(sentences) if sentences else 0.0
    return round(0.5 * coverage + 0.5 * support, 6)
