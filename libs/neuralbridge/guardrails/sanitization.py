"""Cleaning user input before it goes anywhere else.

:func:`sanitize_input` applies, in this order:

1. Invisible characters are removed: zero-width spaces and joiners, the word
   joiner and other invisible operators, the BOM, bidirectional embeddings,
   overrides and isolates (used to make text read differently from what it
   is), Unicode tag characters and supplementary variation selectors (used to
   smuggle hidden instructions). Emoji presentation selectors (U+FE0F) stay.
2. ``\\r\\n`` and lone ``\\r`` become ``\\n``; every other control character
   except ``\\n`` and ``\\t`` is removed.
3. The text is normalised to Unicode NFC.
4. Absurd whitespace runs are collapsed: more than :data:`MAX_BLANK_RUN` spaces
   or tabs in a row are cut to the first that many, and more than two blank lines in a
   row are cut to two.
5. The result is measured against ``max_chars``. Over the limit it is rejected
   with :class:`InputRejected` by default (silent truncation changes what the
   user asked, and the caller should decide); ``truncate=True`` cuts it to
   ``max_chars`` instead and reports ``truncated=True``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from neuralbridge.guardrails.errors import InputRejected

__all__ = ["MAX_BLANK_RUN", "SanitizedInput", "sanitize_input"]

#: The longest run of spaces and tabs kept as is (code indentation fits).
MAX_BLANK_RUN: Final = 32

_INVISIBLE: Final = re.compile(
    "[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
    "\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
)
_CONTROL: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BLANK_RUN: Final = re.compile(rf"[ \t]{{{MAX_BLANK_RUN + 1},}}")
_BLANK_LINES: Final = re.compile(r"\n(?:[ \t]*\n){3,}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SanitizedInput:
    """Cleaned input text and what cleaning it changed.

    Attributes:
        text: The cleaned text.
        truncated: Whether the text was cut to ``max_chars`` (only with
            ``truncate=True``).
        removed_control_chars: How many control characters were removed
            (line-ending conversions are not counted).
        removed_invisible_chars: How many zero-width, bidirectional and tag
            characters were removed.
    """

    text: str
    truncated: bool
    removed_control_chars: int
    removed_invisible_chars: int


def _keep_blank_run_head(match: re.Match[str]) -> str:
    return match.group()[:MAX_BLANK_RUN]


def sanitize_input(text: str, *, max_chars: int, truncate: bool = False) -> SanitizedInput:
    """Clean user input; reject (or cut) it when it is too long.

    Args:
        text: The raw input.
        max_chars: The most characters the cleaned text may have.
        truncate: Cut over-long text to ``max_chars`` instead of raising.

    Returns:
        The cleaned text and counts of what was removed.

    Raises:
        InputRejected: The cleaned text is longer than ``max_chars`` and
            ``truncate`` is false. The message names the limit and the length.
        ValueError: ``max_chars`` is negative.
    """
    if max_chars < 0:
        raise ValueError("max_chars must not be negative")
    visible, invisible = _INVISIBLE.subn("", text)
    visible = visible.replace("\r\n", "\n").replace("\r", "\n")
    visible, controls = _CONTROL.subn("", visible)
    cleaned = unicodedata.normalize("NFC", visible)
    cleaned = _BLANK_RUN.sub(_keep_blank_run_head, cleaned)
    cleaned = _BLANK_LINES.sub("\n\n\n", cleaned)
    truncated = len(cleaned) > max_chars
    if truncated and not truncate:
        raise InputRejected(
            f"input has {len(cleaned)} characters, over the limit of max_chars={max_chars}",
            limit=max_chars,
            actual=len(cleaned),
        )
    return SanitizedInput(
        text=cleaned[:max_chars],
        truncated=truncated,
        removed_control_chars=controls,
        removed_invisible_chars=invisible,
    )
