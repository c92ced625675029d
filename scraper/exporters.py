"""Feed exporters for page records: CSV and XML that hold what the JSON feeds hold.

Scrapy's own CSV exporter writes nested fields (chunks, structured data, extraction) as
Python reprs, and its XML exporter makes every dict key an element name, so JSON-LD keys
(``@context``, ``@id``, ``@value``) and property IRIs make the document malformed.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.sax.xmlreader import AttributesImpl

from lxml import etree
from scrapy.exporters import CsvItemExporter, XmlItemExporter
from scrapy.utils.serialize import ScrapyJSONEncoder

# Characters XML 1.0 cannot hold at all, even as character references.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def plain(value: Any) -> Any:
    """``value`` in JSON types, exactly as the JSON feeds write it (chunks and failures are
    dataclasses, stages enums)."""
    return json.loads(json.dumps(value, cls=ScrapyJSONEncoder, ensure_ascii=False))


def _field_value(field: Any, value: Any) -> Any:
    """The field's own serializer (``extraction`` has one), then JSON types."""
    return plain(field.get("serializer", lambda v: v)(value))


class CsvPageExporter(CsvItemExporter):
    """CSV whose nested fields (lists, objects) are JSON in their column; None is empty."""

    def serialize_field(self, field: Any, name: str, value: Any) -> Any:
        value = _field_value(field, value)
        if value is None:
            return ""
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return value
        return json.dumps(value, ensure_ascii=False)


def _is_xml_name(name: str) -> bool:
    """True when ``name`` can be an element name (no namespace prefix)."""
    try:
        etree.Element(name)
    except ValueError:
        return False
    return True


class XmlPageExporter(XmlItemExporter):
    """XML in which a key that is not an element name (``@id``, an IRI, ``og:title``)
    becomes ``<field key="@id">``; None is an empty element, booleans ``true``/``false``."""

    def serialize_field(self, field: Any, name: str, value: Any) -> Any:
        return _field_value(field, value)

    def _export_xml_field(self, name: str, serialized_value: Any, depth: int) -> None:
        # Scrapy's own method writes every key as an element name and takes no attributes.
        element, attributes = (name, {}) if _is_xml_name(name) else ("field", {"key": name})
        self._beautify_indent(depth=depth)
        self.xg.startElement(element, AttributesImpl({k: _text(v) for k, v in attributes.items()}))
        if isinstance(serialized_value, dict | list):
            self._beautify_newline()
            pairs = (
                serialized_value.items()
                if isinstance(serialized_value, dict)
                else (("value", value) for value in serialized_value)
            )
            for key, value in pairs:
                self._export_xml_field(key, value, depth=depth + 1)
            self._beautify_indent(depth=depth)
        else:
            self.xg.characters(_text(serialized_value))
        self.xg.endElement(element)
        self._beautify_newline()


def _text(value: Any) -> str:
    """A scalar as text XML can hold: None empty, booleans as in JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("\ufffd", str(value))
