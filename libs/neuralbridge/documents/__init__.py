"""Documents to text, text to chunks, chunks to CSV.

Shared by dataset ingestion (``nb ingest``) and the trainer's agent pipeline::

    from neuralbridge.documents import chunk_rows, chunk_text, extract, write_chunks_csv

    document = extract(Path("relatorio.pdf"))
    chunks = chunk_text(document.text, size=512, overlap=50)
    rows = chunk_rows(document, chunks, document_id=upload_id, document_type="reference")
    write_chunks_csv(rows, Path("training_data.csv"))

:func:`extract` reads ``.txt``, ``.md``, ``.html``, ``.pdf`` and ``.docx``
(pypdf and python-docx; nothing is downloaded and no external program runs)
and raises a :class:`DocumentError` subclass, always permanent, for files it
cannot use; :func:`extract_many` yields those errors in place of documents so
one bad file never stops a batch. :func:`chunk_text` cuts sentence-aware,
overlapping chunks counted in characters or tokens.
"""

from neuralbridge.documents.chunking import Chunk, ChunkUnit, chunk_text
from neuralbridge.documents.document import DocumentFormat, ExtractedDocument
from neuralbridge.documents.errors import (
    CorruptDocumentError,
    DocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
    UnsupportedFormatError,
)
from neuralbridge.documents.export import (
    CHUNK_CSV_COLUMNS,
    ChunkRow,
    chunk_rows,
    chunks_csv_bytes,
    write_chunks_csv,
)
from neuralbridge.documents.extraction import detect_format, extract, extract_many
from neuralbridge.documents.normalization import normalize_text
from neuralbridge.documents.tokenization import RegexTokenizer, Tokenizer, WordPieceTokenizer

__all__ = [
    "CHUNK_CSV_COLUMNS",
    "Chunk",
    "ChunkRow",
    "ChunkUnit",
    "CorruptDocumentError",
    "DocumentError",
    "DocumentFormat",
    "EmptyDocumentError",
    "EncryptedDocumentError",
    "ExtractedDocument",
    "RegexTokenizer",
    "Tokenizer",
    "UnsupportedFormatError",
    "WordPieceTokenizer",
    "chunk_rows",
    "chunk_text",
    "chunks_csv_bytes",
    "detect_format",
    "extract",
    "extract_many",
    "normalize_text",
    "write_chunks_csv",
]
