"""Decode text files whose encoding nobody declared."""

from __future__ import annotations

import codecs

import structlog

__all__ = ["decode_text"]

log = structlog.get_logger()

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(data: bytes, *, declared: str | None = None) -> str:
    """Decode bytes: byte-order mark, then ``declared``, then UTF-8, then Windows-1252.

    Windows-1252 (a superset of Latin-1 for printable text) is the usual
    encoding of legacy Portuguese and English files; bytes it leaves undefined
    are decoded as Latin-1, so decoding never fails.

    Args:
        data: The file's bytes.
        declared: An encoding the file itself declares (an HTML ``charset``).

    Returns:
        The decoded text.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    candidates = [declared] if declared else []
    for encoding in [*candidates, "utf-8", "cp1252"]:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    log.debug("text_decoded_as_latin1", size=len(data))
    return data.decode("latin-1")
