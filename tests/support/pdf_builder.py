"""Build small, valid text PDFs by hand, so tests need no binary fixtures.

pypdf can read and encrypt PDFs but cannot lay out text, so this writes the
objects itself: a catalog, a page tree, one page per entry with a Helvetica
(WinAnsiEncoding) font resource and a content stream that shows each line with
``Tj``, an optional ``/Info`` dictionary, a classic xref table and a trailer.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["build_pdf"]


def build_pdf(
    pages: Sequence[str],
    *,
    title: str | None = None,
    author: str | None = None,
) -> bytes:
    """Return the bytes of a PDF with one page per item of ``pages``.

    Each page's text is split into lines and drawn top-down; an empty string
    gives a page with no text at all (what a scanned page looks like to a text
    extractor). Characters outside Windows-1252 are not supported.
    """
    count = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, text in enumerate(pages):
        content = _content_stream(text)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> " + f"/Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(
            f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream"
        )
    info_ref = b""
    if title is not None or author is not None:
        entries = b""
        if title is not None:
            entries += b"/Title " + _text_string(title) + b" "
        if author is not None:
            entries += b"/Author " + _text_string(author) + b" "
        objects.append(b"<< " + entries + b">>")
        info_ref = f" /Info {len(objects)} 0 R".encode()
    return _assemble(objects, info_ref)


def _content_stream(text: str) -> bytes:
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return b""
    shown = b" T* ".join(b"(" + _escape(line.encode("cp1252")) + b") Tj" for line in lines)
    return b"BT /F1 12 Tf 14 TL 72 720 Td " + shown + b" ET"


def _escape(raw: bytes) -> bytes:
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _text_string(value: str) -> bytes:
    if value.isascii():
        return b"(" + _escape(value.encode("ascii")) + b")"
    return b"<FEFF" + value.encode("utf-16-be").hex().upper().encode() + b">"


def _assemble(objects: list[bytes], info_ref: bytes) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode()
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R".encode() + info_ref + b" >>\n"
    out += f"startxref\n{xref_at}\n%%EOF\n".encode()
    return bytes(out)
