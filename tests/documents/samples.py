"""Builders for sample documents, written into a test's tmp_path (nothing binary committed)."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pypdf

from tests.support.pdf_builder import build_pdf

__all__ = ["write_docx", "write_encrypted_pdf", "write_pdf"]


def write_pdf(
    path: Path, pages: list[str], *, title: str | None = None, author: str | None = None
) -> Path:
    """Write a text PDF with one page per item of ``pages``."""
    path.write_bytes(build_pdf(pages, title=title, author=author))
    return path


def write_encrypted_pdf(path: Path, text: str, *, user_password: str) -> Path:
    """Write a one-page PDF encrypted by pypdf with ``user_password``."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(build_pdf([text]))))
    writer.encrypt(user_password)
    with path.open("wb") as stream:
        writer.write(stream)
    return path


def write_docx(
    path: Path,
    paragraphs: list[str],
    *,
    table: list[list[str]] | None = None,
    after_table: str | None = None,
    title: str | None = None,
    author: str | None = None,
) -> Path:
    """Write a Word document: paragraphs, then an optional table and a closing paragraph."""
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    if after_table is not None:
        document.add_paragraph(after_table)
    if title is not None:
        document.core_properties.title = title
    if author is not None:
        document.core_properties.author = author
    document.save(str(path))
    return path
