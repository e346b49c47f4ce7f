"""Text normalisation applied to every extracted document."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize_text"]

_LINE_BREAKS = re.compile(r"\r\n|[\r\v\f\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_TRAILING_SPACE = re.compile(r"[ \t\u00a0]+$", re.MULTILINE)
_BLANK_RUNS = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """Normalise text the same way for every format.

    Unicode NFC; every line-break convention becomes ``\\n``; control
    characters other than tab and newline are dropped; trailing spaces are
    stripped from each line; runs of blank lines collapse to one; leading and
    trailing blank lines go.

    Args:
        text: Raw text from a reader.

    Returns:
        The normalised text (possibly empty).
    """
    text = unicodedata.normalize("NFC", text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROL.sub("", text)
    text = _TRAILING_SPACE.sub("", text)
    text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip("\n")
