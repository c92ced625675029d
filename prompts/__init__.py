"""Versioned prompt templates.

A template is a Markdown file ``prompts/<version>.md`` with the sections
``# system``, ``# user`` and ``# reask``, each a :class:`string.Template`
(``$name`` placeholders, so JSON braces need no escaping). The version (the
file name) is part of every LLM cache key: change a template's wording in a
new file, never in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from string import Template

DEFAULT_PROMPT = "extract_v1"
_SECTIONS = ("system", "user", "reask")
_HEADING = re.compile(r"^# (\w+)\s*$", re.MULTILINE)


class PromptError(ValueError):
    """A prompt version that does not exist or lacks a section."""


@dataclass(frozen=True)
class PromptTemplate:
    version: str
    system: Template
    user: Template
    reask: Template


def load_prompt(version: str = DEFAULT_PROMPT) -> PromptTemplate:
    """The template ``prompts/<version>.md``."""
    if not re.fullmatch(r"[\w.-]+", version):
        raise PromptError(f"prompt version {version!r} is not a file name")
    resource = resources.files(__package__) / f"{version}.md"
    if not resource.is_file():
        raise PromptError(f"no prompt template {version}.md in the prompts package")
    parts = _HEADING.split(resource.read_text(encoding="utf-8"))
    sections = {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}
    missing = [name for name in _SECTIONS if name not in sections]
    if missing:
        raise PromptError(f"prompt {version}.md lacks section(s): {', '.join(missing)}")
    return PromptTemplate(version, *(Template(sections[name]) for name in _SECTIONS))
