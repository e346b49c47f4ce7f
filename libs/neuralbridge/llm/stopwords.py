"""English and Portuguese stopwords, the word folding the extractive answerer matches on,
and a language guess for choosing the reply's language.

Words are folded to lower case without accents (``informação`` → ``informacao``)
and lightly stemmed (plural and a few verb endings), so ``founded``/``founding``
and ``informações``/``informação`` meet.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

__all__ = ["STOPWORDS", "Language", "fold", "guess_language", "terms"]

Language = Literal["en", "pt"]

_EN = """
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out
over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves tell please explain
describe give know let lets say many much
"""
_PT = """
a ao aos aquela aquelas aquele aqueles aquilo as ate com como da das de dela delas dele deles
depois do dos e ela elas ele eles em entre era eram essa essas esse esses esta estas este estes
eu foi foram ha isso isto ja lhe lhes mais mas me mesmo meu meus minha minhas muito na nas nem
no nos nossa nossas nosso nossos num numa o os ou para pela pelas pelo pelos por qual quais
quando que quem se sem ser seu seus so sua suas tambem te tem ter teu tua um uma umas uns voce
voces vos sao estao onde porque quanto quantos quantas explique diga fale sobre
"""
_EN_WORDS = frozenset(_EN.split())
_PT_WORDS = frozenset(_PT.split())
STOPWORDS = _EN_WORDS | _PT_WORDS

_WORD = re.compile(r"\w+", re.UNICODE)
_PT_HINTS = re.compile(r"[ãõçáéíóúâêô]", re.IGNORECASE)
_SUFFIXES = (("coes", "cao"), ("soes", "sao"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""))
_MIN_STEM = 4


def fold(word: str) -> str:
    """Lower-case ``word`` and strip its accents."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _stem(word: str) -> str:
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            return word[: -len(suffix)] + replacement
    return word


def terms(text: str) -> list[str]:
    """The content words of ``text``: folded, stemmed, without stopwords or lone digits."""
    words = (fold(w) for w in _WORD.findall(text))
    return [_stem(w) for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def guess_language(text: str) -> Language:
    """Guess whether ``text`` is Portuguese or English (English on a tie)."""
    words = [fold(w) for w in _WORD.findall(text)]
    pt = sum(w in _PT_WORDS and w not in _EN_WORDS for w in words)
    en = sum(w in _EN_WORDS and w not in _PT_WORDS for w in words)
    if _PT_HINTS.search(text):
        pt += 1
    return "pt" if pt > en else "en"
