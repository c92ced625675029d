"""GraphML of the property graph (Gephi, yEd, Cytoscape, NetworkX), written as it streams.

Nodes carry ``label`` (the name, for display), ``type`` (their most specific class, for
colouring) and every property; a list property is written as a JSON array in a string,
typed scalars as GraphML ``long``, ``double`` and ``boolean``, dates and times as ISO text.
Edges carry their relation ``type`` and the ``pages`` that state it.
"""

from __future__ import annotations

import json
import re
from datetime import date, time
from typing import IO, Any

from lxml import etree

from scraper.graph.property_graph import (
    BOOLEAN,
    DOUBLE,
    LONG,
    Column,
    Node,
    PropertyGraph,
)
from scraper.graph.vocab import ENTITY_TYPES

NAMESPACE = "http://graphml.graphdrawing.org/xmlns"
SCHEMA_LOCATION = f"{NAMESPACE} {NAMESPACE}/1.0/graphml.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_GRAPHML_TYPES = {LONG: "long", DOUBLE: "double", BOOLEAN: "boolean"}
# Characters XML 1.0 cannot hold (control characters a page may contain).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | time):
        return value.isoformat()
    return _NOT_XML.sub("\ufffd", str(value))


def _json(values: list[Any]) -> str:
    return _text(json.dumps([_text(v) if isinstance(v, date | time) else v for v in values]))


def main_type(labels: list[str]) -> str:
    """The class to colour a node by: a specific one (Recipe) before the coarse ones."""
    specific = [label for label in labels if label not in ENTITY_TYPES]
    return (specific or labels or [""])[0]


def _tag(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def _data(out: Any, key: str, text: str) -> None:
    with out.element(_tag("data"), key=key):
        out.write(text)


def _node_data(column: Column, values: list[Any]) -> str | None:
    if not values:
        return None
    if column.is_list:
        return _json(values)
    return _text(values[0])


def write_graphml(graph: PropertyGraph, out: IO[bytes]) -> None:
    """Write ``graph`` as one directed GraphML graph."""
    with etree.xmlfile(out, encoding="utf-8") as xml:
        xml.write_declaration()
        attributes = {f"{{{XSI}}}schemaLocation": SCHEMA_LOCATION}
        with xml.element(_tag("graphml"), attributes, nsmap={None: NAMESPACE, "xsi": XSI}):
            node_keys = [("label", "string"), ("type", "string")]
            for column in graph.columns:
                kind = "string" if column.is_list else _GRAPHML_TYPES.get(column.type, "string")
                node_keys.append((column.key, kind))
            for name, kind in node_keys:
                _key(xml, f"n_{name}", "node", name, kind)
            for name in ("type", "pages"):
                _key(xml, f"e_{name}", "edge", name, "string")
            with xml.element(_tag("graph"), id="G", edgedefault="directed"):
                for node in graph.nodes:
                    _write_node(xml, node, graph.columns)
                for number, edge in enumerate(graph.edges):
                    attributes = {"id": f"e{number}", "source": edge.source, "target": edge.target}
                    with xml.element(_tag("edge"), attributes):
                        _data(xml, "e_type", _text(edge.type))
                        _data(xml, "e_pages", _json(edge.pages))
                    xml.write("\n")


def _key(xml: Any, key_id: str, domain: str, name: str, kind: str) -> None:
    attributes = {"id": key_id, "for": domain, "attr.name": name, "attr.type": kind}
    with xml.element(_tag("key"), attributes):
        pass
    xml.write("\n")


def _write_node(xml: Any, node: Node, columns: list[Column]) -> None:
    with xml.element(_tag("node"), id=_text(node.id)):
        names = node.properties.get("name") or []
        _data(xml, "n_label", _text(names[0] if names else main_type(node.labels) or node.id))
        _data(xml, "n_type", _text(main_type(node.labels)))
        for column in columns:
            text = _node_data(column, node.properties.get(column.key, []))
            if text is not None:
                _data(xml, f"n_{column.key}", text)
    xml.write("\n")
