"""Text generators and sample prose for the chunking tests."""

from __future__ import annotations

from hypothesis import strategies as st

__all__ = ["PORTUGUESE", "PROSE", "TEXTS"]

_LETTERS = "abcdefghijklmnopqrstuvwxyzçãõáéíóúâêôàüABCÉÇ"
# Abbreviations, sentence ends and punctuation-only words that chunk boundaries must respect.
_TRICKY_WORDS = (
    "Dr.", "Sra.", "e.g.", "etc.", "fim.", "Olá!", "quê?", "sim;", "…", "ação,", "3.5",
    '"citação."', "(nota)", "R$", "—", "n.º",
)  # fmt: skip
_WORDS = st.one_of(
    st.text(alphabet=_LETTERS, min_size=1, max_size=12),
    st.sampled_from(_TRICKY_WORDS),
    st.text(alphabet="xyzw.-/", min_size=13, max_size=90),
)
_SEPARATORS = st.sampled_from([" ", " ", " ", " ", "  ", "\n", "\n\n", "\t", " \n "])
TEXTS = st.lists(st.tuples(_WORDS, _SEPARATORS), max_size=250).map(
    lambda parts: "".join(word + sep for word, sep in parts)
)
PROSE = st.lists(
    st.tuples(st.text(alphabet=_LETTERS, min_size=1, max_size=12), _SEPARATORS), max_size=250
).map(lambda parts: "".join(word + sep for word, sep in parts))

PORTUGUESE = (
    "O Dr. Silva e a Sra. Costa chegaram às 9h. A reunião, e.g. a de orçamento, começou "
    "tarde! Por quê? Porque o Prof. Almeida atrasou; ninguém reclamou. Conforme o art. 5º "
    "da Constituição, todos são iguais perante a lei. A avaliação custou aprox. três mil "
    "reais, etc. e tal. Em São Paulo, na Av. Paulista, o trânsito estava intenso… "
)
