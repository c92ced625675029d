"""Decide whether a page's static HTML is an empty JavaScript shell that needs a browser."""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

# A page with less visible text than this is a candidate JavaScript shell.
MIN_VISIBLE_CHARS = 200
_MOUNT_POINT = re.compile(r"^(root|app|__next|__nuxt|svelte|main-app|react-root|ember\d*)$", re.I)
_ENABLE_JS = re.compile(
    r"enable\s+javascript|requires\s+javascript|javascript\s+is\s+(disabled|required)", re.I
)
_INVISIBLE = ("script", "style", "noscript", "template", "head")


def js_shell_reason(html: str) -> str | None:
    """Why ``html`` looks like an empty JavaScript shell, or None when it has content.

    A shell has almost no visible text but runs scripts, usually into an
    empty mount point (``<div id="root">``) or behind a "please enable
    JavaScript" notice.
    """
    try:
        doc = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None
    scripts = doc.xpath("//script")
    if not scripts:
        return None
    noscript_text = " ".join(n.text_content() for n in doc.xpath("//noscript"))
    for element in doc.xpath("|".join(f"//{tag}" for tag in _INVISIBLE)):
        element.drop_tree()
    visible = " ".join(doc.text_content().split())
    if len(visible) >= MIN_VISIBLE_CHARS:
        return None
    empty_mounts = [
        f"#{el.get('id')}"
        for el in doc.xpath("//*[@id]")
        if _MOUNT_POINT.match(el.get("id", "")) and not " ".join(el.text_content().split())
    ]
    signs = [f"{len(visible)} characters of visible text", f"{len(scripts)} script(s)"]
    if empty_mounts:
        signs.append(f"empty mount point {empty_mounts[0]}")
    if _ENABLE_JS.search(noscript_text):
        signs.append("a <noscript> notice asks for JavaScript")
    return "static HTML looks like a JavaScript shell: " + ", ".join(signs)
