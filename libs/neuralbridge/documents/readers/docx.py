"""Word documents (``.docx``), read with python-docx (MIT licence).

Body paragraphs and tables are read in document order; a table gives one line
per row with its cells separated by tabs (a merged cell counts once). Headers,
footers, comments and text boxes are not read. Title and author come from the
core properties.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
from docx.opc.exceptions import OpcError
from docx.table import Table
from docx.text.paragraph import Paragraph

from neuralbridge.documents.errors import CorruptDocumentError
from neuralbridge.documents.readers.content import Content, clean_field

__all__ = ["read_docx"]

# A broken package fails in zipfile, in python-docx's OPC layer, or while
# parsing its XML (lxml's syntax errors subclass SyntaxError).
_DAMAGE = (OpcError, zipfile.BadZipFile, KeyError, ValueError, SyntaxError, EOFError)


def read_docx(path: Path, data: bytes) -> Content:
    """Paragraphs and table rows of a Word document, with title and author.

    Raises:
        CorruptDocumentError: the file is not a zip archive, or not a valid
            Word document inside.
    """
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise CorruptDocumentError(
            path,
            "this is not a valid .docx file (it is not a zip archive, which every .docx is);"
            " open it in Word and save it again as .docx",
        )
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = [_block_text(block) for block in document.iter_inner_content()]
        properties = document.core_properties
        title, author = properties.title, properties.author
    except _DAMAGE as exc:
        raise CorruptDocumentError(
            path, f"the Word document is damaged and cannot be read ({type(exc).__name__})"
        ) from None
    return Content(text="\n".join(blocks), title=clean_field(title), author=clean_field(author))


def _block_text(block: Paragraph | Table) -> str:
    if isinstance(block, Paragraph):
        return block.text
    rows: list[str] = []
    for row in block.rows:
        cells: list[str] = []
        previous: object = None
        for cell in row.cells:
            if cell._tc is not previous:  # a merged cell repeats across its span
                cells.append(" ".join(cell.text.split()))
            previous = cell._tc
        rows.append("\t".join(cells))
    return "\n".join(rows)
