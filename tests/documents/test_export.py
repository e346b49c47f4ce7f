"""Chunk CSV: the exact columns, RFC 4180 quoting, UTF-8, streaming and atomic writes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from neuralbridge.documents import (
    CHUNK_CSV_COLUMNS,
    ChunkRow,
    chunk_rows,
    chunk_text,
    chunks_csv_bytes,
    extract,
    write_chunks_csv,
)

TRICKY = 'Olá, "mundo"; vírgulas, aspas "" e\nquebras\r\nde linha — fim.'


def _row(index: int, text: str, *, title: str | None = "Relatório, 2024") -> ChunkRow:
    return ChunkRow(
        document_id="doc-1",
        document_type="reference",
        filename='notas "finais".txt',
        chunk_index=index,
        text=text,
        title=title,
        author=None,
        char_start=index * 10,
        char_end=index * 10 + len(text),
    )


def _parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_chunks_csv_bytes_round_trips_commas_quotes_and_newlines() -> None:
    """The csv module reads back exactly what was written, header first."""
    data = chunks_csv_bytes([_row(0, TRICKY), _row(1, "plain", title=None)])
    assert _parse(data) == [
        list(CHUNK_CSV_COLUMNS),
        ["doc-1", "reference", 'notas "finais".txt', "0", TRICKY, "Relatório, 2024", "", "0",
         str(len(TRICKY))],
        ["doc-1", "reference", 'notas "finais".txt', "1", "plain", "", "", "10", "15"],
    ]  # fmt: skip


def test_chunks_csv_bytes_header_is_the_seed_columns_then_metadata() -> None:
    """Columns are document_id, document_type, filename, chunk_index, text, then metadata."""
    assert chunks_csv_bytes([]) == (
        b"document_id,document_type,filename,chunk_index,text,title,author,char_start,char_end\r\n"
    )


def test_chunks_csv_bytes_quotes_only_fields_that_need_it() -> None:
    """RFC 4180: quotes are doubled and only special fields are quoted; UTF-8, no BOM."""
    line = chunks_csv_bytes([_row(0, 'diz "olá"', title=None)]).split(b"\r\n")[1]
    assert line == 'doc-1,reference,"notas ""finais"".txt",0,"diz ""olá""",,,0,9'.encode()


def test_write_chunks_csv_streams_rows_and_returns_count(tmp_path: Path) -> None:
    """Rows from a generator are written and counted; the file equals the bytes variant."""
    rows = [_row(i, f"chunk {i}, with comma") for i in range(250)]
    path = tmp_path / "training_data.csv"
    assert write_chunks_csv(iter(rows), path) == 250
    assert path.read_bytes() == chunks_csv_bytes(rows)
    assert list(tmp_path.iterdir()) == [path]


def test_write_chunks_csv_failure_keeps_previous_file(tmp_path: Path) -> None:
    """A row source that fails mid-way leaves the old file and no partial file behind."""
    path = tmp_path / "out.csv"
    path.write_bytes(b"previous")

    def failing_rows() -> Iterator[ChunkRow]:
        yield _row(0, "first")
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):
        write_chunks_csv(failing_rows(), path)
    assert path.read_bytes() == b"previous"
    assert list(tmp_path.iterdir()) == [path]


def test_chunk_rows_from_document_carry_metadata_and_offsets(tmp_path: Path) -> None:
    """Rows name the document, its type, file, title and author; offsets slice its text."""
    source = tmp_path / "guia.md"
    source.write_text("---\ntitle: Guia\nauthor: Ana\n---\n" + "Uma frase curta. " * 80, "utf-8")
    document = extract(source)
    chunks = chunk_text(document.text, size=200, overlap=30)
    rows = list(chunk_rows(document, chunks, document_id="u-42"))
    assert [row.chunk_index for row in rows] == list(range(len(chunks)))
    assert {(r.document_id, r.document_type, r.filename, r.title, r.author) for r in rows} == {
        ("u-42", "md", "guia.md", "Guia", "Ana")
    }
    assert all(document.text[r.char_start : r.char_end] == r.text for r in rows)
    parsed = _parse(chunks_csv_bytes(rows))
    assert [line[4] for line in parsed[1:]] == [chunk.text for chunk in chunks]
