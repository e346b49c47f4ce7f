"""Markdown files (``.md``, ``.markdown``), reduced to readable plain text.

Markup goes (headings' ``#``, emphasis, inline code ticks, code fences, block
quotes, bullets, rules, table rules, images, HTML tags), link syntax keeps its
text, and YAML front matter supplies ``title`` and ``author``. This is a set of
line-oriented rules, not a CommonMark parser: it aims at the text people write,
not at every corner of the spec.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from neuralbridge.documents.readers.content import Content, clean_field
from neuralbridge.documents.readers.encoding import decode_text

__all__ = ["read_markdown"]

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_FIELD = re.compile(r"^(title|author)[ \t]*:[ \t]*(.*?)[ \t]*$", re.MULTILINE | re.I)
_FENCE = re.compile(r"^[ \t]*(```|~~~)")
_ATX_HEADING = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_H1 = re.compile(r"^[ \t]{0,3}=+[ \t]*$")
_SETEXT_H2 = re.compile(r"^[ \t]{0,3}-+[ \t]*$")
_RULE = re.compile(r"^[ \t]{0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)+\|?[ \t]*$")
_REFERENCE_DEF = re.compile(r"^[ \t]{0,3}\[[^\]]+\]:[ \t]*\S+.*$")
_LINE_PREFIX = re.compile(r"^[ \t]*(?:>[ \t]?)+|^([ \t]*)[-*+][ \t]+(?:\[[ xX]\][ \t]+)?")
_INLINE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"!\[[^\]]*\]\([^)]*\)|!\[[^\]]*\]\[[^\]]*\]"), ""),
    (re.compile(r"\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"<((?:https?|mailto):[^>\s]+)>"), r"\1"),
    (re.compile(r"</?[A-Za-z][^>]*>|<!--.*?-->"), ""),
    (re.compile(r"(`+)(.+?)\1"), r"\2"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"\1"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])"), r"\1"),
)


def read_markdown(path: Path, data: bytes) -> Content:
    """Strip Markdown markup; title from front matter or the first level-1 heading."""
    del path
    source = decode_text(data).replace("\r\n", "\n").replace("\r", "\n")
    fields, body = _split_front_matter(source)
    lines, first_h1 = _strip_blocks(body.split("\n"))
    text = html.unescape("\n".join(_strip_inline(line) for line in lines))
    title = fields.get("title") or (clean_field(_strip_inline(first_h1)) if first_h1 else None)
    return Content(text=text, title=title, author=fields.get("author"))


def _split_front_matter(source: str) -> tuple[dict[str, str], str]:
    match = _FRONT_MATTER.match(source)
    if match is None:
        return {}, source
    fields: dict[str, str] = {}
    for key, raw in _FRONT_FIELD.findall(match.group(1)):
        value = clean_field(raw.strip().strip("\"'"))
        if value is not None:
            fields.setdefault(key.lower(), value)
    return fields, source[match.end() :]


def _strip_blocks(lines: list[str]) -> tuple[list[str], str | None]:
    """Drop block markup line by line; return the kept lines and the first H1's text."""
    kept: list[str] = []
    first_h1: str | None = None
    in_code = False
    for line in lines:
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            kept.append(line)
            continue
        if (_SETEXT_H1.match(line) or _SETEXT_H2.match(line)) and kept and kept[-1].strip():
            if first_h1 is None and _SETEXT_H1.match(line):
                first_h1 = kept[-1].strip()
            continue
        if _RULE.match(line) or _TABLE_RULE.match(line) or _REFERENCE_DEF.match(line):
            kept.append("")
            continue
        heading = _ATX_HEADING.match(line)
        if heading:
            if first_h1 is None and len(heading.group(1)) == 1:
                first_h1 = heading.group(2)
            kept.append(heading.group(2))
            continue
        kept.append(_strip_table_pipes(_LINE_PREFIX.sub(r"\1", line)))
    return kept, first_h1


def _strip_table_pipes(line: str) -> str:
    stripped = line.strip()
    if stripped.startswith("|") and stripped.endswith("|") and len(stripped) > 1:
        cells = [cell.strip() for cell in stripped[1:-1].split("|")]
        return "\t".join(cells)
    return line


def _strip_inline(line: str) -> str:
    for pattern, replacement in _INLINE_RULES:
        line = pattern.sub(replacement, line)
    return line
