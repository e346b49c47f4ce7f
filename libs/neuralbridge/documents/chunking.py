"""Split text into overlapping, sentence-aware chunks of bounded size.

The text is first cut into *atoms*: whitespace-delimited words, with any word
too long for a chunk on its own hard-split into pieces that fit. A chunk is a
run of consecutive atoms, so it starts and ends on a word boundary unless a
single word is longer than ``size``. Each chunk takes as many atoms as fit in
``size`` units, then steps back to the last sentence end (``.``, ``!``, ``?``,
``…``, ``;`` or a line break, see :mod:`~neuralbridge.documents.sentences`)
if one lies in the chunk's second half. The next chunk starts at the earliest
word whose distance to the previous chunk's end is at most ``overlap`` units,
so the two share that tail.

Sizes are measured by a function of ``(start, end)`` offsets: the slice length
for ``unit="chars"``, the tokenizer's count of the slice for ``unit="tokens"``.
Only the measured slices are ever tokenized, so every chunk's own count is
within bounds whatever the tokenizer does at word joins.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal, NamedTuple

import msgspec

from neuralbridge.documents.sentences import ends_sentence
from neuralbridge.documents.tokenization import RegexTokenizer, Tokenizer

__all__ = ["Chunk", "ChunkUnit", "chunk_text"]

ChunkUnit = Literal["chars", "tokens"]
Measure = Callable[[int, int], int]

_WORD = re.compile(r"\S+")
_CACHED_SLICE = 48  # token counts of slices up to this length (words) are memoised


class Chunk(msgspec.Struct, frozen=True, kw_only=True):
    """One chunk of a text.

    Attributes:
        index: Position of the chunk, from 0.
        text: The chunk's text, equal to ``source[start:end]``.
        start: Offset of its first character in the source text.
        end: Offset just past its last character.
    """

    index: int
    text: str
    start: int
    end: int


class _Atom(NamedTuple):
    start: int
    end: int
    word_end: bool  # False for all but the last piece of a hard-split word


def chunk_text(
    text: str,
    *,
    size: int = 512,
    overlap: int = 50,
    unit: ChunkUnit = "chars",
    tokenizer: Tokenizer | None = None,
) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``size`` units overlapping by about ``overlap``.

    Args:
        text: The text to split (normally :attr:`ExtractedDocument.text`).
        size: Largest chunk, in ``unit``\\ s; never exceeded.
        overlap: Largest overlap between consecutive chunks; the overlap starts
            on a word boundary, so it is usually a little less, and it is 0 when
            the previous chunk's last word alone is longer than ``overlap``.
        unit: ``"chars"`` (code points) or ``"tokens"``.
        tokenizer: Counts tokens for ``unit="tokens"``; defaults to
            :class:`RegexTokenizer`. Must not be given for ``"chars"``.

    Returns:
        The chunks in order; empty when ``text`` has no non-whitespace
        character. Together they cover every non-whitespace character.

    Raises:
        ValueError: ``size``, ``overlap``, ``unit`` or ``tokenizer`` is invalid;
            the message names the argument.
    """
    measure = _measure_for(text, unit, tokenizer)
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    if not 0 <= overlap < size:
        raise ValueError(f"overlap must be >= 0 and < size ({size}), got {overlap}")
    atoms = _atoms(text, size, measure)
    return [
        Chunk(index=index, text=text[start:end], start=start, end=end)
        for index, (start, end) in enumerate(_plan(text, atoms, size, overlap, measure))
    ]


def _measure_for(text: str, unit: str, tokenizer: Tokenizer | None) -> Measure:
    if unit == "chars":
        if tokenizer is not None:
            raise ValueError("tokenizer is only used with unit='tokens'")
        return lambda start, end: end - start
    if unit != "tokens":
        raise ValueError(f"unit must be 'chars' or 'tokens', got {unit!r}")
    counter = tokenizer if tokenizer is not None else RegexTokenizer()
    cache: dict[str, int] = {}

    def count_tokens(start: int, end: int) -> int:
        piece = text[start:end]
        if end - start > _CACHED_SLICE:
            return counter.count(piece)
        found = cache.get(piece)
        if found is None:
            found = cache[piece] = counter.count(piece)
        return found

    return count_tokens


def _atoms(text: str, size: int, measure: Measure) -> list[_Atom]:
    """The text's words, with words too long for a chunk hard-split into pieces that fit."""
    atoms: list[_Atom] = []
    for match in _WORD.finditer(text):
        start, end = match.span()
        if measure(start, end) <= size:
            atoms.append(_Atom(start, end, True))
        else:
            atoms.extend(_Atom(a, b, b == end) for a, b in _hard_split(start, end, size, measure))
    return atoms


def _is_sentence_end(text: str, atoms: list[_Atom], index: int) -> bool:
    """Whether a chunk may end after atom ``index`` as at a sentence end or line break."""
    atom = atoms[index]
    if not atom.word_end:
        return False
    if index + 1 == len(atoms):
        return True
    following = atoms[index + 1]
    if "\n" in text[atom.end : following.start]:
        return True
    return ends_sentence(text[atom.start : atom.end], text[following.start : following.end])


def _hard_split(start: int, end: int, size: int, measure: Measure) -> list[tuple[int, int]]:
    """Cut one over-long word into the fewest left-to-right pieces that each fit."""
    pieces: list[tuple[int, int]] = []
    while measure(start, end) > size:
        fits, too_long = start + 1, end  # a piece always takes at least one character
        while too_long - fits > 1:
            middle = (fits + too_long) // 2
            if measure(start, middle) <= size:
                fits = middle
            else:
                too_long = middle
        pieces.append((start, fits))
        start = fits
    pieces.append((start, end))
    return pieces


def _plan(
    text: str, atoms: list[_Atom], size: int, overlap: int, measure: Measure
) -> list[tuple[int, int]]:
    """Choose each chunk's first and last atom; return their character spans."""
    spans: list[tuple[int, int]] = []
    first, floor = 0, 0  # ``floor``: the first atom this chunk must include, to advance
    while first < len(atoms):
        last = _last_fitting(atoms, first, size, measure)
        if last < len(atoms) - 1:
            last = _prefer_sentence_end(text, atoms, (first, floor, last), size, measure)
        spans.append((atoms[first].start, atoms[last].end))
        if last == len(atoms) - 1:
            break
        first, floor = _next_first(atoms, first, last, (size, overlap), measure), last + 1
    return spans


def _last_fitting(atoms: list[_Atom], first: int, size: int, measure: Measure) -> int:
    """The furthest atom a chunk starting at ``first`` can end on (gallop, then bisect)."""
    start, final = atoms[first].start, len(atoms) - 1
    fits, step = first, 1  # ``fits`` always fits: every atom fits on its own
    too_long = final + 1
    while fits < final:
        probe = min(fits + step, final)
        if measure(start, atoms[probe].end) > size:
            too_long = probe
            break
        fits, step = probe, step * 2
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        if measure(start, atoms[middle].end) <= size:
            fits = middle
        else:
            too_long = middle
    return fits


def _prefer_sentence_end(
    text: str, atoms: list[_Atom], bounds: tuple[int, int, int], size: int, measure: Measure
) -> int:
    """Step back to the last sentence end that still fills at least half the chunk.

    ``bounds`` is ``(first, floor, last)``: the chunk's first atom, the earliest
    atom it may end on (past the previous chunk), and the furthest that fits.
    """
    first, floor, last = bounds
    start, half = atoms[first].start, (size + 1) // 2
    for candidate in range(last, floor - 1, -1):
        if not _is_sentence_end(text, atoms, candidate):
            continue
        if measure(start, atoms[candidate].end) < half:
            break
        return candidate
    return last


def _next_first(
    atoms: list[_Atom], first: int, last: int, limits: tuple[int, int], measure: Measure
) -> int:
    """The next chunk's first atom: the earliest one within ``overlap`` of the end.

    It is always after ``first`` (so chunks advance) and leaves room for the atom
    after ``last`` (so the next chunk reaches past this one's end).
    """
    size, overlap = limits
    end, after = atoms[last].end, last + 1
    candidate = after
    while candidate - 1 > first and measure(atoms[candidate - 1].start, end) <= overlap:
        candidate -= 1
    while candidate < after and measure(atoms[candidate].start, atoms[after].end) > size:
        candidate += 1
    return candidate
