"""CSV files for ``neo4j-admin database import`` (Neo4j's bulk loader) of the property graph.

``nodes.csv`` has the header ``id:ID,:LABEL,name,aliases:string[],…,<property>:<type>``
and ``relationships.csv`` ``:START_ID,:END_ID,:TYPE,pages:string[]``, in the format of
Neo4j's import header documentation: typed columns (``long``, ``double``, ``boolean``,
``date``, ``datetime``, ``localdatetime``, ``time``, ``localtime``, ``duration``,
``string``), ``[]`` for arrays. Array elements and labels are separated by U+001F (text
never holds it, unlike ``;``), so the import names it with ``--array-delimiter``; values may
span lines (``--multiline-fields=true``). The exact command is written next to the files as
``neo4j-admin-import.sh``.
"""

from __future__ import annotations

import csv
import math
from datetime import date, time
from pathlib import Path
from typing import Any

from scraper.graph.property_graph import Column, PropertyGraph

ARRAY_DELIMITER = "\x1f"
NODES, RELATIONSHIPS, SCRIPT = "nodes.csv", "relationships.csv", "neo4j-admin-import.sh"
IMPORT_COMMAND = (
    f"neo4j-admin database import full --nodes={NODES} --relationships={RELATIONSHIPS} "
    '--array-delimiter=U+001F --multiline-fields=true "${1:-neo4j}"'
)


def header(column: Column) -> str:
    """A node column's header field: ``id:ID``, ``name``, ``aliases:string[]``,
    ``foundingDate:date``; a column that is never a list gets no ``[]``."""
    if column.key == "id":
        return "id:ID"
    if column.key == "name":
        return "name"
    return f"{column.key}:{column.type}{'[]' if column.is_list else ''}"


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return str(value).replace(ARRAY_DELIMITER, " ")


def _field(values: list[Any]) -> str:
    return ARRAY_DELIMITER.join(_cell(v) for v in values)


def write_neo4j_csv(graph: PropertyGraph, folder: Path) -> list[Path]:
    """Write ``nodes.csv``, ``relationships.csv`` and the import command into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / NODES, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([header(graph.columns[0]), ":LABEL", *map(header, graph.columns[1:])])
        for node in graph.nodes:
            cells = [_field(node.properties.get(c.key, [])) for c in graph.columns]
            writer.writerow([cells[0], _field(node.labels), *cells[1:]])
    with open(folder / RELATIONSHIPS, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([":START_ID", ":END_ID", ":TYPE", "pages:string[]"])
        for edge in graph.edges:
            writer.writerow([edge.source, edge.target, edge.type, _field(edge.pages)])
    script = folder / SCRIPT
    script.write_text(
        "#!/bin/sh\n"
        "# Load this export into a new Neo4j database (default: neo4j); stop the DBMS first.\n"
        "#   sh neo4j-admin-import.sh [DATABASE]\n"
        'cd "$(dirname "$0")" || exit 1\n'
        f"exec {IMPORT_COMMAND}\n",
        encoding="utf-8",
    )
    return [folder / NODES, folder / RELATIONSHIPS, script]
