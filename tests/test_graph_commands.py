"""``scrapy graph …`` run as real subprocesses from the project directory."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pyoxigraph
import pytest

from scraper.facts import PageFacts
from scraper.graph import EmbeddedStore, PageProvenance, SparqlEndpointStore
from tests.crawling import PROJECT_DIR
from tests.oxigraph_server import oxigraph_server
from tests.sites import serve

ACME = "https://acme.example/"
NEWS = "https://news.example/acme-hires"


def populate(store):
    store.replace_page(
        PageProvenance(url=ACME, fetched_at="2026-01-01T00:00:00+00:00", content_hash="a"),
        PageFacts.from_dict(
            {
                "status": "ok",
                "entities": [
                    {
                        "name": "Acme Corporation",
                        "type": "Organization",
                        "aliases": ["Acme"],
                        "attributes": {"foundingDate": "1999"},
                        "identifiers": [ACME],
                        "origin": "structured_data",
                    },
                    {"name": 'Jane "JD" Doe', "type": "Person", "origin": "llm"},
                ],
                "relations": [
                    {"source": "Acme Corporation", "type": "founder", "target": 'Jane "JD" Doe'}
                ],
            }
        ),
    )
    store.replace_page(
        PageProvenance(url=NEWS, model="gpt-test", prompt_version="extract_v1"),
        PageFacts.from_dict(
            {
                "status": "ok",
                "entities": [
                    {"name": "ACME Corp.", "type": "Organization"},
                    {"name": "Zoë Ångström", "type": "Person"},
                ],
                "relations": [
                    {"source": "Zoë Ångström", "type": "worksFor", "target": "ACME Corp."}
                ],
            }
        ),
    )


@pytest.fixture(scope="module")
def graph_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("commands") / "graph"
    with EmbeddedStore.open_writer(folder) as store:
        populate(store)
    return folder


def scrapy_graph(store, *args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "graph", *args, "-s", f"GRAPH_STORE={store}"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def test_stats(graph_dir):
    result = scrapy_graph(graph_dir, "stats", "-f", "json")
    assert result.returncode == 0, result.stderr
    numbers = json.loads(result.stdout)
    assert numbers["pages"] == 2 and numbers["entities"] == 3
    assert numbers["entities_by_type"] == {"schema:Organization": 1, "schema:Person": 2}
    assert numbers["relations"] == 2 and numbers["merged_mentions"] == 1
    assert set(numbers["facts_by_origin"]) == {"ss:LLM", "ss:StructuredData"}


def test_query_as_table_json_and_csv(graph_dir):
    sparql = (
        "SELECT ?name WHERE { GRAPH ?page { ?e a schema:Person ; schema:name ?name } }"
        " ORDER BY ?name"
    )
    table = scrapy_graph(graph_dir, "query", sparql)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[2:] == ['Jane "JD" Doe', "Zoë Ångström", "(2 rows)"]
    as_json = json.loads(scrapy_graph(graph_dir, "query", "-", "-f", "json", stdin=sparql).stdout)
    assert [b["name"]["value"] for b in as_json["results"]["bindings"]] == [
        'Jane "JD" Doe',
        "Zoë Ångström",
    ]
    as_csv = scrapy_graph(graph_dir, "query", sparql, "-f", "csv").stdout
    assert list(csv.reader(io.StringIO(as_csv))) == [["name"], ['Jane "JD" Doe'], ["Zoë Ångström"]]


def test_query_syntax_error_is_a_clear_message(graph_dir):
    result = scrapy_graph(graph_dir, "query", "SELECT ?x WHERE { ?x schema:name }")
    assert result.returncode == 1
    assert result.stderr.startswith("error: SPARQL syntax error: error at 1:")
    assert "Traceback" not in result.stderr


def test_entity_lookup_by_any_name(graph_dir):
    result = scrapy_graph(graph_dir, "entity", "acme corp", "-f", "json")
    assert result.returncode == 0, result.stderr
    (view,) = json.loads(result.stdout)
    assert view["name"] == "Acme Corporation" and view["types"] == ["schema:Organization"]
    assert set(view["aliases"]) == {"Acme", "ACME Corp."}
    assert view["attributes"] == {"foundingDate": ["1999"]}
    assert [(r["type"], r["target_name"]) for r in view["relations_out"]] == [
        ("founder", 'Jane "JD" Doe')
    ]
    assert [(r["type"], r["source_name"]) for r in view["relations_in"]] == [
        ("worksFor", "Zoë Ångström")
    ]
    assert view["pages"] == [ACME, NEWS]
    text = scrapy_graph(graph_dir, "entity", "Acme")
    assert '-> founder Jane "JD" Doe' in text.stdout and "<- worksFor Zoë Ångström" in text.stdout
    missing = scrapy_graph(graph_dir, "entity", "Jane")
    assert missing.returncode == 1 and 'Jane "JD" Doe' in missing.stderr  # a hint


def test_entity_lists_at_most_limit_pages_and_counts_them_all(graph_dir):
    (view,) = json.loads(
        scrapy_graph(graph_dir, "entity", "Acme", "--limit", "1", "-f", "json").stdout
    )
    (page,) = view["pages"]
    assert page in (ACME, NEWS) and view["counts"]["pages"] == 2
    assert [r["page"] for r in view["relations_in"]] == ([NEWS] if page == NEWS else [])
    assert view["counts"] == {"pages": 2, "mentions": 2}
    text = scrapy_graph(graph_dir, "entity", "Acme", "--limit", "1").stdout
    assert "(1 of 2 pages listed, with what they say; --limit 0 lists all)" in text
    assert "listed" not in scrapy_graph(graph_dir, "entity", "Acme", "--limit", "0").stdout
    refused = scrapy_graph(graph_dir, "entity", "Acme", "--limit", "-1")
    assert refused.returncode == 2 and "--limit must be 0 (all pages) or more" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize(
    ("fmt", "check"),
    [
        ("nquads", lambda data: pyoxigraph.parse(data, pyoxigraph.RdfFormat.N_QUADS)),
        ("turtle", lambda data: pyoxigraph.parse(data, pyoxigraph.RdfFormat.TURTLE)),
        ("jsonld", lambda data: pyoxigraph.parse(data, pyoxigraph.RdfFormat.JSON_LD)),
        ("jsonl", lambda data: [json.loads(line) for line in data.splitlines()]),
    ],
)
def test_export_formats_parse_back(graph_dir, tmp_path, fmt, check):
    target = tmp_path / f"graph.{fmt}"
    result = scrapy_graph(graph_dir, "export", "-f", fmt, "-o", str(target))
    assert result.returncode == 0, result.stderr
    items = list(check(target.read_bytes()))
    if fmt == "jsonl":
        assert {e["name"] for e in items} == {"Acme Corporation", 'Jane "JD" Doe', "Zoë Ångström"}
        acme = next(e for e in items if e["name"] == "Acme Corporation")
        assert acme["sameAs"] == [ACME] and acme["pages"] == [ACME, NEWS]
    elif fmt == "turtle":
        assert all(isinstance(q.graph_name, pyoxigraph.DefaultGraph) for q in items)
        assert any(q.object == pyoxigraph.Literal("Zoë Ångström") for q in items)
    else:
        graphs = {q.graph_name.value for q in items}
        assert {ACME, NEWS} <= graphs  # facts per page and provenance graphs
        assert any(g.startswith("urn:semantic-scraper:provenance:") for g in graphs)


def test_reads_work_and_writes_are_refused_while_a_crawl_writes(tmp_path):
    folder = tmp_path / "graph"
    with EmbeddedStore.open_writer(folder) as writer:
        populate(writer)
        writer.publish_snapshot()
        stats = scrapy_graph(folder, "stats", "-f", "json")
        assert stats.returncode == 0, stats.stderr
        assert json.loads(stats.stdout)["pages"] == 2
        assert "has this store open; showing its snapshot" in stats.stderr
        drop = scrapy_graph(folder, "drop-page", NEWS, "-s", "GRAPH_STORE_LOCK_TIMEOUT=0.5")
        assert drop.returncode == 1 and "Traceback" not in drop.stderr
        assert "in use by process" in drop.stderr and "one writing process" in drop.stderr
    drop = scrapy_graph(folder, "drop-page", NEWS)
    assert drop.returncode == 0, drop.stderr
    assert drop.stdout.startswith(f"dropped {NEWS}: ")
    with EmbeddedStore.open_reader(folder) as store:
        assert store.pages() == [ACME]
    again = scrapy_graph(folder, "drop-page", NEWS)
    assert again.returncode == 1 and "no page" in again.stderr


def test_commands_work_against_a_sparql_endpoint():
    with oxigraph_server() as server:
        store = SparqlEndpointStore(server.url)
        populate(store)
        store.close()
        result = scrapy_graph(server.url, "entity", "Acme Corporation", "-f", "json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)[0]["pages"] == [ACME, NEWS]
        bad = scrapy_graph(server.url, "query", "SELEC")
        assert bad.returncode == 1 and "rejected" in bad.stderr


def test_a_missing_store_is_a_clear_error(tmp_path):
    result = scrapy_graph(tmp_path / "none", "stats")
    assert result.returncode == 1 and result.stderr.startswith("error: no graph store at")


@pytest.mark.parametrize(
    "args",
    [
        ("export", "-f", "nquads", "-o", "-"),
        ("export", "-f", "jsonl"),
        ("entity", "Acme"),
        ("stats",),
        ("query", "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }"),
    ],
)
def test_a_reader_that_stops_early_ends_the_command_quietly(graph_dir, args):
    """`scrapy graph … | head`: the pipe closes before the command writes; exit 0, no traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "scrapy", "graph", *args, "-s", f"GRAPH_STORE={graph_dir}"],
        cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    proc.stdout.close()  # the reader is gone before the first byte is written
    stderr = proc.communicate(timeout=120)[1].decode()
    assert (proc.returncode, stderr) == (0, "")


def test_head_reads_one_line_of_an_export(graph_dir):
    shell = subprocess.run(
        f"{sys.executable} -m scrapy graph export -f nquads -o - -s GRAPH_STORE={graph_dir}"
        " | head -n 1; echo \"status ${PIPESTATUS[0]}\"",
        shell=True, executable="/bin/bash", cwd=PROJECT_DIR, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    lines = shell.stdout.splitlines()
    assert len(lines) == 2 and lines[0].endswith(" .") and lines[1] == "status 0"
    assert shell.stderr == ""


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("unmerge", "http://a b", "Acme"), "error: not an absolute IRI: 'http://a b'"),
        (("undo-unmerge", "acme"), "error: not an absolute IRI: 'acme'"),
        (("entity", "http://a b"), "error: no entity named 'http://a b'"),
    ],
)
def test_an_invalid_iri_is_one_line(graph_dir, args, line):
    result = scrapy_graph(graph_dir, *args)
    assert result.returncode == 1 and result.stderr.startswith(line)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_federated_queries_are_refused_and_send_nothing(graph_dir):
    with serve({"/sparql": "nothing"}) as other:
        sparql = f"SELECT * WHERE {{ SERVICE <{other.url}sparql> {{ ?s ?p ?o }} }}"
        result = scrapy_graph(graph_dir, "query", sparql)
        assert other.hits == []  # the store never called out
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: SERVICE (a federated query) is off: it would make the graph store send "
        "requests to other servers; allow it with -s GRAPH_QUERY_SERVICE=True"
    ]
    # The word in a string or an IRI is no federation.
    plain = scrapy_graph(graph_dir, "query", 'ASK { ?s ?p "SERVICE" }')
    assert plain.returncode == 0, plain.stderr


def test_names_with_terminal_escapes_print_as_text(tmp_path):
    hostile = "Evil\x1b]0;pwned\x07\x1b[2J Corp"
    folder = tmp_path / "graph"
    with EmbeddedStore.open_writer(folder) as store:
        store.replace_page(
            PageProvenance(url=ACME),
            PageFacts.from_dict(
                {"status": "ok", "entities": [{"name": hostile, "type": "Organization"}]}
            ),
        )
    result = scrapy_graph(folder, "entity", hostile)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "Evil\\x1b]0;pwned\\x07\\x1b[2J Corp" in result.stdout
    table = scrapy_graph(folder, "query", "SELECT ?n WHERE { ?e schema:name ?n }")
    assert "\x1b" not in table.stdout and "Evil\\x1b" in table.stdout
