"""ends_sentence(): sentence ends in English and Portuguese, abbreviations excepted."""

from __future__ import annotations

import pytest

from neuralbridge.documents.sentences import ends_sentence


@pytest.mark.parametrize(
    ("word", "next_word", "expected"),
    [
        ("fim.", "Depois", True),
        ("fim.", None, True),
        ("Olá!", "ele", True),
        ("quê?", "Porque", True),
        ("sim;", "e", True),
        ("assim…", "Depois", True),
        ('dito."', "Ele", True),
        ("(nota.)", "Depois", True),
        ("Dr.", "Silva", False),
        ("Sra.", "Maria", False),
        ("Prof.", "Almeida", False),
        ("Av.", "Paulista", False),
        ("art.", "5º", False),
        ("pág.", "12", False),
        ("e.g.", "The", False),
        ("i.e.", "A", False),
        ("J.", "Silva", False),
        ("S.A.", "Vende", False),
        ("etc.", "e", False),
        ("etc.", "Depois", True),
        ("aprox.", "três", False),
        ("palavra", "Outra", False),
        ("3,5", "km", False),
    ],
)
def test_ends_sentence_word_and_next_word_gives_expected(
    word: str, next_word: str | None, expected: bool
) -> None:
    """Terminal punctuation ends a sentence unless the word is an abbreviation."""
    assert ends_sentence(word, next_word) is expected
