"""The offline ``extractive`` provider: answers by quoting the passages it was given.

No model and no network: the answer is the one to three sentences of the
prompt's passages (see :mod:`neuralbridge.llm.passages` for the convention)
that best match the question under BM25 over sentences, each followed by its
``[source N]`` citation. A sentence only qualifies when its passage covers at
least 60% of the question's content words (English and Portuguese stopwords
removed, accents folded), so an unrelated knowledge base yields the refusal
("I could not find this in the knowledge base.", in Portuguese for a Portuguese
question) instead of a confident non-answer. Same input, same answer.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Self

import aiohttp

from neuralbridge.llm.chat import ChatMessage, ChatRequest, ChatResult, Delta, Done, StreamEvent
from neuralbridge.llm.outcome import CallRecord
from neuralbridge.llm.passages import Passage, read_prompt
from neuralbridge.llm.profile import LLMProfile, LLMSettings
from neuralbridge.llm.stopwords import Language, guess_language, terms

__all__ = ["NOT_FOUND", "ExtractiveClient", "extract_answer", "word_chunks"]

NOT_FOUND: Mapping[Language, str] = {
    "en": "I could not find this in the knowledge base.",
    "pt": "Não encontrei esta informação na base de conhecimento.",
}
_MAX_SENTENCES = 3
_MIN_COVERAGE = 0.6
_RELATIVE_SCORE = 0.5
_K1, _B = 1.2, 0.75
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_CHUNK = re.compile(r"\s*\S+|\s+")


@dataclass(frozen=True, slots=True)
class _Sentence:
    text: str
    source: int
    terms: tuple[str, ...]
    order: int


def word_chunks(text: str) -> list[str]:
    """Split ``text`` into word chunks (leading whitespace kept) that join back to ``text``."""
    return _CHUNK.findall(text)


def extract_answer(messages: Sequence[ChatMessage]) -> str:
    """Answer the prompt's question from its passages, or refuse in the question's language."""
    passages, question = read_prompt(messages)
    wanted = list(dict.fromkeys(terms(question)))
    chosen = _best_sentences(passages, wanted) if wanted else []
    if not chosen:
        return NOT_FOUND[guess_language(question)]
    return " ".join(f"{s.text} [source {s.source}]" for s in chosen)


def _best_sentences(passages: Sequence[Passage], wanted: list[str]) -> list[_Sentence]:
    relevant = [p for p in passages if _coverage(p, wanted) >= _MIN_COVERAGE]
    sentences = _sentences(relevant)
    if not sentences:
        return []
    scores = _bm25(sentences, wanted)
    ranked = sorted(
        (s for s in sentences if scores[s.order] > 0), key=lambda s: (-scores[s.order], s.order)
    )
    chosen: list[_Sentence] = []
    seen: set[str] = set()
    for sentence in ranked:
        if scores[sentence.order] < _RELATIVE_SCORE * scores[ranked[0].order]:
            break
        if sentence.text.casefold() not in seen:
            seen.add(sentence.text.casefold())
            chosen.append(sentence)
        if len(chosen) == _MAX_SENTENCES:
            break
    return chosen


def _coverage(passage: Passage, wanted: list[str]) -> float:
    present = set(terms(passage.text))
    return sum(term in present for term in wanted) / len(wanted)


def _sentences(passages: Sequence[Passage]) -> list[_Sentence]:
    found: list[_Sentence] = []
    for passage in passages:
        for text in _SENTENCE_END.split(passage.text):
            if text.strip():
                found.append(
                    _Sentence(text.strip(), passage.source, tuple(terms(text)), len(found))
                )
    return found


def _bm25(sentences: Sequence[_Sentence], wanted: list[str]) -> list[float]:
    """Okapi BM25 of every sentence (as a document) for the question's terms."""
    count = len(sentences)
    average = sum(len(s.terms) for s in sentences) / count or 1.0
    frequency = Counter(term for s in sentences for term in set(s.terms))
    idf = {t: math.log(1 + (count - frequency[t] + 0.5) / (frequency[t] + 0.5)) for t in wanted}
    scores: list[float] = []
    for sentence in sentences:
        tf = Counter(sentence.terms)
        norm = _K1 * (1 - _B + _B * len(sentence.terms) / average)
        scores.append(sum(idf[t] * tf[t] * (_K1 + 1) / (tf[t] + norm) for t in wanted if tf[t]))
    return scores


class ExtractiveClient:
    """An :class:`~neuralbridge.llm.LLMClient` that quotes the prompt's passages, offline.

    Args:
        profile: ``provider="extractive"``; ``model`` is only a label, ``max_tokens``
            caps the answer in words. Temperature and stop sequences do not apply.
    """

    def __init__(self, profile: LLMProfile) -> None:
        self.provider: str = profile.provider
        self.model: str = profile.model
        self.profile = profile

    @classmethod
    def from_profile(
        cls,
        profile: LLMProfile,
        *,
        session: aiohttp.ClientSession,
        settings: LLMSettings,
        env: Mapping[str, str],
    ) -> Self:
        """Build the client; the session, settings and environment are not needed."""
        return cls(profile)

    async def complete(self, request: ChatRequest) -> ChatResult:
        """Return the extracted answer (see :class:`~neuralbridge.llm.LLMClient`)."""
        record = CallRecord(self.provider, self.model, stream=False)
        result = self._answer(request)
        record.succeeded(result)
        return result

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield the extracted answer word by word, then ``Done``."""
        record = CallRecord(self.provider, self.model, stream=True)
        result = self._answer(request)
        for chunk in word_chunks(result.text):
            record.first_token()
            yield Delta(text=chunk)
        record.succeeded(result)
        yield Done(result=result)

    def _answer(self, request: ChatRequest) -> ChatResult:
        chunks = word_chunks(extract_answer(request.messages))
        _, limit = self.profile.sampling_for(request)
        finish_reason = "stop"
        if limit is not None and len(chunks) > limit:
            chunks, finish_reason = chunks[:limit], "length"
        prompt_words = sum(len(m.content.split()) for m in request.messages)
        return ChatResult(
            text="".join(chunks),
            model=self.model,
            finish_reason=finish_reason,
            prompt_tokens=prompt_words,
            completion_tokens=len(chunks),
            provider=self.provider,
        )
