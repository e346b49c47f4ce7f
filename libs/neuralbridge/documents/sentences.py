"""Where sentences end, for English and Portuguese prose.

A word ends a sentence when it ends (before any closing quotes or brackets)
in ``!``, ``?``, ``…`` or ``;``, or in ``.`` unless it is an abbreviation
(``Dr.``, ``Sra.``, ``e.g.``, ``pág.``, an initial such as ``J.``) or the next
word starts in lower case (``aprox. três``, ``etc. e``). A line break after a
word ends it too. This is a heuristic for choosing chunk boundaries, not a
linguistic sentence splitter.
"""

from __future__ import annotations

import re

__all__ = ["ABBREVIATIONS", "ends_sentence"]

#: Lower-case abbreviations (without their final dot) that do not end a sentence.
ABBREVIATIONS = frozenset(
    {
        # English
        "mr", "mrs", "ms", "dr", "drs", "prof", "sr", "jr", "st", "vs", "fig", "figs",
        "approx", "inc", "ltd", "co", "corp", "dept", "est", "al", "cf", "ca", "vol",
        "vols", "ed", "eds", "pp", "ch", "sec", "gen", "gov", "sen", "rep", "rev", "mt",
        # Portuguese
        "sra", "srs", "sras", "srta", "dra", "dras", "profa", "profs", "eng", "enga", "arq",
        "adv", "av", "pç", "tel", "cel", "pág", "págs", "pg", "cap", "art", "arts", "ex",
        "exa", "exmo", "exma", "obs", "aprox", "máx", "mín", "núm", "séc", "ltda", "cia",
        "pe", "sto", "sta", "dir", "depto", "ref", "refs", "tab", "org", "coord", "trad",
    }
)  # fmt: skip

_CLOSERS = "\"')]}\u00bb\u201d\u2019"  # guillemet, curly double and single quotes
_OPENERS = "\"'([{\u00ab\u201c\u2018\u00bf\u00a1"  # guillemet, curly quotes, inverted ? and !
_ALWAYS_ENDS = frozenset("!?…;")
# Initials and dotted initialisms: "J.", "e.g.", "i.e.", "U.S.", "a.C.", "S.A."
_INITIALISM = re.compile(r"^(?:[^\W\d_]\.)+$")


def ends_sentence(word: str, next_word: str | None) -> bool:
    """Whether ``word`` ends a sentence, given the word that follows it.

    Args:
        word: A whitespace-delimited word.
        next_word: The following word, or ``None`` at the end of the text.

    Returns:
        ``True`` when a chunk may end after ``word`` as at a sentence end.
    """
    core = word.rstrip(_CLOSERS)
    if not core:
        return False
    if core[-1] in _ALWAYS_ENDS:
        return True
    if core[-1] != ".":
        return False
    bare = core.lstrip(_OPENERS)
    if _INITIALISM.match(bare) or bare[:-1].lower() in ABBREVIATIONS:
        return False
    following = (next_word or "").lstrip(_OPENERS)
    return not (following[:1].isalpha() and following[:1].islower())
