"""Render an lxml HTML subtree as Markdown: headings, paragraphs, lists, pipe tables, code.

Links keep their text only (URLs would cost tokens and carry no content for the
extractor); images, scripts and form controls are dropped.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

_SKIP = frozenset(
    {"script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed",
     "button", "select", "input", "textarea", "option", "img", "picture", "video", "audio",
     "source", "track", "map", "head", "title", "meta", "link", "base"}
)  # fmt: skip
_BLOCKS = frozenset(
    {"address", "article", "aside", "body", "center", "details", "dialog", "div", "dl", "dd",
     "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "html",
     "legend", "main", "nav", "p", "section", "summary", "caption", "tbody", "thead", "tfoot",
     "tr", "td", "th", "menu", "li"}
)  # fmt: skip
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Deeper subtrees are rendered as flat text: Python recursion must stay bounded.
_MAX_DEPTH = 150
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_LANGUAGE_CLASS = re.compile(r"(?:lang(?:uage)?-)([\w+#-]+)")


def _collapse(text: str) -> str:
    """One space between words, line breaks (from ``<br>``) kept, lines trimmed."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _cell_text(cell: HtmlElement) -> str:
    return _SPACES.sub(" ", " ".join(cell.itertext())).strip().replace("|", "\\|")


def _direct_rows(table: HtmlElement) -> list[HtmlElement]:
    """Rows of ``table`` itself, not of tables nested in its cells."""
    return [row for row in table.iter("tr") if _owning_table(row) is table]


def _owning_table(el: HtmlElement) -> HtmlElement | None:
    parent = el.getparent()
    while parent is not None and parent.tag != "table":
        parent = parent.getparent()
    return parent


def _is_data_table(table: HtmlElement, rows: list[HtmlElement]) -> bool:
    """Data tables become pipe tables; layout tables (one column, nested tables) flow as text."""
    if not rows or any(_owning_table(t) is table for t in table.iter("table") if t is not table):
        return False
    widths = [len(row.xpath("./td|./th")) for row in rows]
    return max(widths) >= 2


class _Renderer:
    """Walks a subtree, collecting Markdown blocks; inline text is buffered until a block ends."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.inline: list[str] = []

    def flush(self) -> None:
        text = _collapse("".join(self.inline))
        self.inline = []
        if text:
            self.blocks.append(text)

    def render(self, el: HtmlElement) -> str:
        self.walk(el, 0)
        self.flush()
        return "\n\n".join(_unique(self.blocks))

    def sub(self, el: HtmlElement, depth: int) -> list[str]:
        renderer = _Renderer()
        renderer.walk_children(el, depth)
        renderer.flush()
        return renderer.blocks

    def walk_children(self, el: HtmlElement, depth: int) -> None:
        if el.text:
            self.inline.append(el.text)
        for child in el:
            self.walk(child, depth + 1)
            if child.tail:
                self.inline.append(child.tail)

    def walk(self, el: HtmlElement, depth: int) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if not tag or tag in _SKIP:
            return  # comments, processing instructions, non-content elements
        if depth > _MAX_DEPTH:
            self.inline.append(" " + " ".join(el.itertext()) + " ")
        elif tag in _HEADINGS:
            self.flush()
            text = _SPACES.sub(" ", " ".join(el.itertext())).strip()
            if text:
                self.blocks.append("#" * _HEADINGS[tag] + " " + text)
        elif tag in ("ul", "ol"):
            self.flush()
            self.render_list(el, depth, ordered=tag == "ol")
        elif tag == "table":
            self.flush()
            self.render_table(el, depth)
        elif tag == "pre":
            self.flush()
            self.render_code(el)
        elif tag == "blockquote":
            self.flush()
            self.blocks.extend(_prefix_lines(block, "> ") for block in self.sub(el, depth))
        elif tag == "br":
            self.inline.append("\n")
        elif tag == "hr":
            self.flush()
        elif tag == "code":
            text = "".join(el.itertext())
            self.inline.append(f"`{text}`" if text.strip() and "\n" not in text else text)
        elif tag in _BLOCKS or "-" in tag:  # custom elements are blocks in practice
            self.flush()
            self.walk_children(el, depth)
            self.flush()
        else:  # inline element: a, span, strong, em, ...
            self.walk_children(el, depth)

    def render_list(self, el: HtmlElement, depth: int, ordered: bool) -> None:
        number = 0
        for item in el:
            if not isinstance(item.tag, str) or item.tag in _SKIP:
                continue
            blocks = self.sub(item, depth + 1) if item.tag == "li" else self.sub_of(item, depth)
            if not blocks:
                continue
            number += 1
            marker = f"{number}. " if ordered else "- "
            indent = " " * len(marker)
            lines = [marker + _prefix_lines(blocks[0], indent)[len(indent) :]]
            lines.extend(_prefix_lines(block, indent) for block in blocks[1:])
            self.blocks.append("\n".join(lines))

    def sub_of(self, el: HtmlElement, depth: int) -> list[str]:
        """Blocks of a stray non-``li`` child of a list, rendered as its own subtree."""
        renderer = _Renderer()
        renderer.walk(el, depth + 1)
        renderer.flush()
        return renderer.blocks

    def render_table(self, table: HtmlElement, depth: int) -> None:
        rows = _direct_rows(table)
        if not _is_data_table(table, rows):
            self.walk_children(table, depth)
            self.flush()
            return
        caption = table.find("caption")
        if caption is not None and (text := _cell_text(caption)):
            self.blocks.append(text)
        grid = [[_cell_text(cell) for cell in row.xpath("./td|./th")] for row in rows]
        grid = [row for row in grid if any(row)]
        if not grid:
            return
        width = max(len(row) for row in grid)
        grid = [row + [""] * (width - len(row)) for row in grid]
        lines = ["| " + " | ".join(grid[0]) + " |", "|" + " --- |" * width]
        lines.extend("| " + " | ".join(row) + " |" for row in grid[1:])
        self.blocks.append("\n".join(lines))

    def render_code(self, el: HtmlElement) -> None:
        if block := code_block(el):
            self.blocks.append(block)


def code_block(pre: HtmlElement) -> str | None:
    """The ``<pre>`` element ``pre`` as a fenced Markdown code block (its language from a
    ``language-*`` class), or None when it holds no code."""
    code = "".join(pre.itertext()).strip("\n")
    if not code.strip():
        return None
    classes = " ".join(node.get("class", "") for node in (pre, *pre.iterdescendants("code")))
    match = _LANGUAGE_CLASS.search(classes)
    return f"```{match.group(1) if match else ''}\n{code}\n```"


def _unique(blocks: list[str]) -> list[str]:
    """``blocks`` without repeats: responsive pages render the same block for each layout."""
    seen: set[str] = set()
    unique = []
    for block in blocks:
        if block not in seen:
            seen.add(block)
            unique.append(block)
    return unique


def _prefix_lines(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else prefix.rstrip() for line in text.split("\n"))


def to_markdown(el: HtmlElement) -> str:
    """Markdown for the subtree rooted at ``el`` (empty string when it has no text)."""
    return _Renderer().render(el)
