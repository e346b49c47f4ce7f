"""extract(): every format's text, title and author, and the errors for bad files."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import msgspec
import pytest

from neuralbridge.core.errors import PermanentError
from neuralbridge.documents import (
    CorruptDocumentError,
    DocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
    ExtractedDocument,
    UnsupportedFormatError,
    extract,
    extract_many,
)
from tests.documents.samples import write_docx, write_encrypted_pdf, write_pdf

PT_TEXT = "Relatório de avaliação: a ação começou às 9h. O Dr. Silva não concordou!"


def test_extract_txt_utf8_normalises_text_and_has_no_title(tmp_path: Path) -> None:
    """CRLF, trailing spaces, blank-line runs and decomposed accents are normalised."""
    path = tmp_path / "notes.txt"
    path.write_bytes("Linha um   \r\n\r\n\r\n\r\nLinha dois e\u0301\t\r\n".encode())
    document = extract(path)
    assert document.text == "Linha um\n\nLinha dois \u00e9"
    assert (document.format, document.title, document.author, document.pages) == (
        "txt", None, None, None,
    )  # fmt: skip
    assert (document.source_file, document.path) == ("notes.txt", str(path))


def test_extract_txt_windows1252_falls_back_without_mojibake(tmp_path: Path) -> None:
    """A legacy Windows-1252 file decodes to the right Portuguese characters."""
    path = tmp_path / "legado.txt"
    path.write_bytes("Ação “rápida” — coração".encode("cp1252"))
    assert extract(path).text == "Ação “rápida” — coração"


def test_extract_txt_utf8_bom_is_dropped(tmp_path: Path) -> None:
    """A UTF-8 byte-order mark does not reach the text."""
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfol\xc3\xa1")
    assert extract(path).text == "olá"


def test_extract_file_hash_is_sha256_of_bytes(tmp_path: Path) -> None:
    """sha256 is the hex digest of the file's bytes, not of the text."""
    path = tmp_path / "a.txt"
    path.write_bytes(b"hello  \r\n")
    assert extract(path).sha256 == hashlib.sha256(b"hello  \r\n").hexdigest()


def test_extract_suffix_in_upper_case_is_recognised(tmp_path: Path) -> None:
    """Suffixes are matched case-insensitively."""
    path = write_pdf(tmp_path / "SCAN.PDF", ["Upper case suffix"])
    assert (extract(path).format, extract(path).text) == ("pdf", "Upper case suffix")


def test_extract_markdown_strips_markup_and_keeps_link_text(tmp_path: Path) -> None:
    """Headings, emphasis, code ticks, images, tags and link syntax are removed."""
    path = tmp_path / "guia.md"
    path.write_text(
        "# Guia Rápido\n\nTexto **forte**, *itálico*, `código` e snake_case_name.\n"
        "Veja [o site](https://example.com) ![logo](logo.png) <b>agora</b> &amp; já.\n\n"
        "- item um\n> citação\n\n```\nx = 2 * 3\n```\n",
        encoding="utf-8",
    )
    document = extract(path)
    assert document.text == (
        "Guia Rápido\n\nTexto forte, itálico, código e snake_case_name.\n"
        "Veja o site  agora & já.\n\nitem um\ncitação\n\nx = 2 * 3"
    )
    assert (document.title, document.author) == ("Guia Rápido", None)


def test_extract_markdown_front_matter_gives_title_and_author(tmp_path: Path) -> None:
    """YAML front matter title and author win over the heading and are not in the text."""
    path = tmp_path / "post.markdown"
    path.write_text(
        '---\ntitle: "Relatório Anual"\nauthor: Ana Souza\ntags: [a]\n---\n# Outro\n\nCorpo.\n',
        encoding="utf-8",
    )
    document = extract(path)
    assert (document.title, document.author, document.text) == (
        "Relatório Anual", "Ana Souza", "Outro\n\nCorpo.",
    )  # fmt: skip


def test_extract_html_drops_scripts_and_decodes_entities(tmp_path: Path) -> None:
    """Script, style and noscript vanish; entities decode; blocks become lines."""
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Caf&eacute; &amp; Cia</title><meta name='Author' content='Maria'>"
        "<style>p{color:red}</style><script>var s = '<p>oculto</p>';</script></head><body>"
        "<h1>Cabeçalho</h1><p>Preço &lt;baixo&gt; &#233; bom</p><noscript>ative js</noscript>"
        "<ul><li>um</li><li>dois</li></ul><table><tr><td>a</td><td>b</td></tr></table>"
        "<div>linha<br>quebrada</div></body></html>",
        encoding="utf-8",
    )
    document = extract(path)
    assert document.text == (
        "Cabeçalho\n\nPreço <baixo> é bom\n\num\n\ndois\n\na\tb\n\nlinha\nquebrada"
    )
    assert (document.title, document.author) == ("Café & Cia", "Maria")


def test_extract_html_without_title_uses_first_h1(tmp_path: Path) -> None:
    """With no <title>, the first <h1> is the title."""
    path = tmp_path / "page.htm"
    path.write_bytes("<h1>Primeiro <em>título</em></h1><h1>Segundo</h1>".encode())
    assert extract(path).title == "Primeiro título"


def test_extract_pdf_reads_pages_title_and_author(tmp_path: Path) -> None:
    """Page texts are joined by a blank line; Info Title/Author and page count are read."""
    path = write_pdf(
        tmp_path / "report.pdf",
        [PT_TEXT, "Second page.\nIts second line."],
        title="Relatório Anual",
        author="John Doe",
    )
    document = extract(path)
    assert document.text == f"{PT_TEXT}\n\nSecond page.\nIts second line."
    assert (document.format, document.title, document.author, document.pages) == (
        "pdf", "Relatório Anual", "John Doe", 2,
    )  # fmt: skip


def test_extract_pdf_with_user_password_raises_encrypted(tmp_path: Path) -> None:
    """A PDF the empty password does not open is reported as encrypted, by file name."""
    path = write_encrypted_pdf(tmp_path / "report.pdf", "secret text", user_password="s3cret")
    with pytest.raises(EncryptedDocumentError) as caught:
        extract(path)
    assert (
        str(caught.value) == "report.pdf: the PDF is encrypted; decrypt it or supply it unprotected"
    )
    assert caught.value.path == str(path)


def test_extract_pdf_with_empty_user_password_is_read(tmp_path: Path) -> None:
    """Encryption with an empty user password (owner-only protection) does not block reading."""
    path = write_encrypted_pdf(tmp_path / "open.pdf", "readable anyway", user_password="")
    assert extract(path).text == "readable anyway"


def test_extract_truncated_pdf_raises_corrupt(tmp_path: Path) -> None:
    """A PDF cut off mid-file is corrupt, and the message says so."""
    path = write_pdf(tmp_path / "cut.pdf", ["Some text that will be cut"])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptDocumentError, match=r"^cut\.pdf: the PDF is damaged or truncated"):
        extract(path)


def test_extract_pdf_suffix_on_other_bytes_raises_corrupt(tmp_path: Path) -> None:
    """A file named .pdf that is not a PDF is corrupt."""
    path = tmp_path / "fake.pdf"
    path.write_bytes(b"just some text")
    with pytest.raises(CorruptDocumentError, match=r"^fake\.pdf: this is not a PDF file"):
        extract(path)


def test_extract_pdf_without_text_raises_empty_mentioning_scans(tmp_path: Path) -> None:
    """A PDF with no text layer is empty, and the message suggests OCR."""
    path = write_pdf(tmp_path / "scan.pdf", ["", ""])
    with pytest.raises(EmptyDocumentError, match=r"^scan\.pdf: .*scanned image.*OCR"):
        extract(path)


def test_extract_docx_reads_paragraphs_and_tables_in_order(tmp_path: Path) -> None:
    """Paragraphs and table rows come out in document order, with core title and author."""
    path = write_docx(
        tmp_path / "memo.docx",
        ["Primeiro parágrafo.", "Segundo parágrafo."],
        table=[["Nome", "Idade"], ["Ana", "30"]],
        after_table="Depois da tabela.",
        title="Memorando",
        author="Ana Souza",
    )
    document = extract(path)
    assert document.text == (
        "Primeiro parágrafo.\nSegundo parágrafo.\nNome\tIdade\nAna\t30\nDepois da tabela."
    )
    assert (document.format, document.title, document.author, document.pages) == (
        "docx", "Memorando", "Ana Souza", None,
    )  # fmt: skip


def test_extract_docx_that_is_not_a_zip_raises_corrupt(tmp_path: Path) -> None:
    """A .docx that is not a zip archive is corrupt, and the message says why."""
    path = tmp_path / "letter.docx"
    path.write_bytes(b"plain text pretending to be Word")
    with pytest.raises(CorruptDocumentError, match=r"^letter\.docx: .*not a zip archive"):
        extract(path)


def test_extract_docx_zip_without_word_parts_raises_corrupt(tmp_path: Path) -> None:
    """A zip archive that holds no Word document is corrupt."""
    path = tmp_path / "archive.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a Word document")
    with pytest.raises(CorruptDocumentError, match=r"^archive\.docx: the Word document is damaged"):
        extract(path)


def test_extract_unknown_suffix_raises_unsupported_listing_formats(tmp_path: Path) -> None:
    """An unknown suffix is rejected before the file is read, naming the supported ones."""
    path = tmp_path / "sheet.xlsx"
    with pytest.raises(UnsupportedFormatError) as caught:
        extract(path)
    assert str(caught.value) == (
        "sheet.xlsx: '.xlsx' files are not supported; "
        "use one of .docx, .htm, .html, .markdown, .md, .pdf, .txt"
    )


def test_extract_missing_file_raises_document_error(tmp_path: Path) -> None:
    """A file that cannot be read raises the base DocumentError naming it."""
    with pytest.raises(DocumentError, match=r"^gone\.txt: the file cannot be read"):
        extract(tmp_path / "gone.txt")


def test_extract_whitespace_only_txt_raises_empty(tmp_path: Path) -> None:
    """A text file with nothing but whitespace has no text."""
    path = tmp_path / "blank.txt"
    path.write_text(" \n\t\n", encoding="utf-8")
    with pytest.raises(EmptyDocumentError, match=r"^blank\.txt: the file contains no text$"):
        extract(path)


def test_document_errors_are_permanent() -> None:
    """Every document error goes to the DLQ at once (PermanentError)."""
    for error_type in (
        UnsupportedFormatError, EncryptedDocumentError, CorruptDocumentError, EmptyDocumentError,
    ):  # fmt: skip
        assert issubclass(error_type, DocumentError)
        assert issubclass(error_type, PermanentError)


def test_extracted_document_is_frozen(tmp_path: Path) -> None:
    """Extracted documents cannot be modified after the fact."""
    path = tmp_path / "a.txt"
    path.write_text("x", encoding="utf-8")
    document = extract(path)
    with pytest.raises(AttributeError):
        document.text = "y"  # type: ignore[misc]
    assert msgspec.json.decode(msgspec.json.encode(document), type=ExtractedDocument) == document


def test_extract_many_bad_file_does_not_stop_others(tmp_path: Path) -> None:
    """Results come in input order, with the error in place of the bad file."""
    good = tmp_path / "good.txt"
    good.write_text("fine", encoding="utf-8")
    bad = tmp_path / "bad.docx"
    bad.write_bytes(b"nope")
    results = list(extract_many([good, bad, tmp_path / "x.odt", good]))
    assert [type(result) for result in results] == [
        ExtractedDocument, CorruptDocumentError, UnsupportedFormatError, ExtractedDocument,
    ]  # fmt: skip
    assert isinstance(results[1], DocumentError)
    assert results[1].path == str(bad)
