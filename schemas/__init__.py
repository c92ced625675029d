"""Pydantic models the LLM fills: the default knowledge-graph schema and domain schemas.

A schema is named by its import path, ``package.module:Model``; :func:`load_schema`
resolves such a name, :data:`DEFAULT_SCHEMA` is used when the user names none.
"""

from __future__ import annotations

import importlib

from pydantic import BaseModel

DEFAULT_SCHEMA = "schemas.knowledge_graph:KnowledgeGraph"


class SchemaError(ValueError):
    """A schema name that does not resolve to a Pydantic model."""


def load_schema(name: str) -> type[BaseModel]:
    """The Pydantic model named ``package.module:Model``."""
    module_name, sep, attr = name.partition(":")
    if not sep or not module_name or not attr:
        raise SchemaError(f"schema {name!r} must look like package.module:Model")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SchemaError(f"schema {name!r}: cannot import {module_name!r}: {exc}") from exc
    model = getattr(module, attr, None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise SchemaError(f"schema {name!r}: {attr!r} is not a Pydantic model in {module_name!r}")
    return model


def schema_name(model: type[BaseModel]) -> str:
    """The ``package.module:Model`` name of ``model`` (inverse of :func:`load_schema`)."""
    return f"{model.__module__}:{model.__qualname__}"
