"""Errors raised while turning files into text.

::

    NeuralBridgeError                       (neuralbridge.core.errors)
    ├── ConfigError                         WordPieceTokenizer's vocabulary package or the
    │                                       ``tokenizers`` library is not installed
    └── JobError
        └── PermanentError
            └── DocumentError               the file cannot be read at all (missing, no access)
                ├── UnsupportedFormatError  the suffix is not one we extract (.txt, .md,
                │                           .markdown, .html, .htm, .pdf, .docx)
                ├── EncryptedDocumentError  a password-protected PDF that the empty password
                │                           does not open
                ├── CorruptDocumentError    truncated, damaged or mislabelled (a .docx that is
                │                           not a zip archive, a .pdf that is not a PDF)
                └── EmptyDocumentError      the file holds no extractable text (for example a
                                            scanned PDF with no text layer)

Every ``DocumentError`` is permanent: re-reading the same bytes gives the same
answer, so the job runner sends it to the DLQ at once. Each carries the full
``path``; its message starts with the file's name only (never the directories)
and says in plain words what is wrong and, where there is one, what to do.
"""

from __future__ import annotations

from pathlib import Path

from neuralbridge.core.errors import PermanentError

__all__ = [
    "CorruptDocumentError",
    "DocumentError",
    "EmptyDocumentError",
    "EncryptedDocumentError",
    "UnsupportedFormatError",
]


class DocumentError(PermanentError):
    """A document that cannot be turned into text.

    Args:
        path: The file that failed.
        reason: What is wrong, in plain words; the message becomes
            ``"<file name>: <reason>"``.

    Attributes:
        path: The failing file's path, as given.
    """

    error_class = "DocumentError"

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        super().__init__(f"{Path(path).name}: {reason}")


class UnsupportedFormatError(DocumentError):
    """The file's suffix is not one of the formats we extract."""

    error_class = "UnsupportedFormatError"


class EncryptedDocumentError(DocumentError):
    """The document is password-protected and the empty password does not open it."""

    error_class = "EncryptedDocumentError"


class CorruptDocumentError(DocumentError):
    """The file is truncated, damaged, or not really in the format its suffix claims."""

    error_class = "CorruptDocumentError"


class EmptyDocumentError(DocumentError):
    """The document opened but holds no extractable text."""

    error_class = "EmptyDocumentError"
