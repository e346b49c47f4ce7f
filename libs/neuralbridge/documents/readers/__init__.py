"""One reader per file format, chosen by the file's suffix."""

from __future__ import annotations

from types import MappingProxyType

from neuralbridge.documents.document import DocumentFormat
from neuralbridge.documents.readers.content import Content, Reader
from neuralbridge.documents.readers.docx import read_docx
from neuralbridge.documents.readers.html import read_html
from neuralbridge.documents.readers.markdown import read_markdown
from neuralbridge.documents.readers.pdf import read_pdf
from neuralbridge.documents.readers.plain import read_plain

__all__ = ["READERS", "SUFFIXES", "Content", "Reader"]

#: Lower-case suffix -> the format it declares.
SUFFIXES: MappingProxyType[str, DocumentFormat] = MappingProxyType(
    {
        ".txt": "txt",
        ".md": "md",
        ".markdown": "md",
        ".html": "html",
        ".htm": "html",
        ".pdf": "pdf",
        ".docx": "docx",
    }
)

#: Format -> the function that reads it.
READERS: MappingProxyType[DocumentFormat, Reader] = MappingProxyType(
    {
        "txt": read_plain,
        "md": read_markdown,
        "html": read_html,
        "pdf": read_pdf,
        "docx": read_docx,
    }
)
