"""HTML files (``.html``, ``.htm``) read with the standard library's parser.

Content of ``script``, ``style``, ``noscript``, ``template`` and ``head`` is
dropped, except the ``<title>``; block elements become line breaks; entities
are decoded; whitespace collapses as a browser would (``pre`` keeps its line breaks).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from neuralbridge.documents.readers.content import Content, clean_field
from neuralbridge.documents.readers.encoding import decode_text

__all__ = ["read_html"]

_SKIPPED = frozenset({"script", "style", "noscript", "template", "head", "svg"})
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details",
        "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
        "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
        "section", "summary", "table", "tbody", "thead", "tfoot", "tr", "ul",
    }
)  # fmt: skip
_CELLS = frozenset({"td", "th"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "wbr"})
_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)", re.I)
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_AROUND_BREAKS = re.compile(r"[ \t]*\n[ \t]*")


class _TextCollector(HTMLParser):
    """Collects visible text, the ``<title>``, the first ``<h1>`` and the author meta."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] | None = None
        self.h1: list[str] | None = None
        self.author: str | None = None
        self._skip_depth = 0
        self._pre_depth = 0
        self._open: list[str] = []
        self._captured: set[str] = set()  # "title"/"h1" once their first element closed

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            self._read_meta(dict(attrs))
        if tag in _VOID:
            self._break_for(tag, opening=True)
            return
        self._open.append(tag)
        if tag in _SKIPPED:
            self._skip_depth += 1
        elif tag == "title" and self.title is None and "svg" not in self._open:
            self.title = []
        elif tag == "h1" and self.h1 is None:
            self.h1 = []
        self._pre_depth += tag == "pre"
        self._break_for(tag, opening=True)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self._open:
            return
        while self._open:
            opened = self._open.pop()
            self._skip_depth -= opened in _SKIPPED
            self._pre_depth -= opened == "pre"
            self._break_for(opened, opening=False)
            if opened in ("title", "h1"):
                self._captured.add(opened)
            if opened == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.title is not None and "title" in self._open and "title" not in self._captured:
            self.title.append(data)
        if self._skip_depth:
            return
        if self.h1 is not None and "h1" in self._open and "h1" not in self._captured:
            self.h1.append(data)
        self.parts.append(data if self._pre_depth else _SPACES.sub(" ", data))

    def _break_for(self, tag: str, *, opening: bool) -> None:
        """Blocks break the line on both sides; a cell starts with a tab."""
        if self._skip_depth:
            return
        if tag in _BLOCKS:
            self.parts.append("\n")
        elif tag in _CELLS and opening:
            self.parts.append("\t")

    def _read_meta(self, attrs: dict[str, str | None]) -> None:
        if (attrs.get("name") or "").strip().lower() == "author" and self.author is None:
            self.author = clean_field(attrs.get("content"))


def read_html(path: Path, data: bytes) -> Content:
    """Visible text of an HTML page; title from ``<title>`` or the first ``<h1>``."""
    del path
    declared = _CHARSET.search(data[:4096])
    source = decode_text(data, declared=declared.group(1).decode("ascii") if declared else None)
    collector = _TextCollector()
    collector.feed(source)
    collector.close()
    text = _AROUND_BREAKS.sub("\n", "".join(collector.parts))
    title = clean_field("".join(collector.title or [])) or clean_field("".join(collector.h1 or []))
    return Content(text=text, title=title, author=collector.author)
