"""``scrapy graph``: inspect, query, export and curate the knowledge graph."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import IO, Any

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.settings import SETTINGS_PRIORITIES

from scraper.config import live_graph_from_settings, open_store_from_settings
from scraper.graph import GraphStore, GraphStoreError
from scraper.graph.browse import ENTITY_PAGES, entity_views
from scraper.graph.curation import undo_unmerge, unmerge
from scraper.graph.graphml import write_graphml
from scraper.graph.neo4j import write_neo4j_csv
from scraper.graph.property_graph import build_property_graph
from scraper.graph.queries import (
    EXPORT_FORMATS,
    export,
    format_result,
    printable,
    printable_json,
    run_query,
    stats,
)
from scraper.paths import project_dir, project_path
from scraper.redaction import redact_text

SUBCOMMANDS = {
    "stats": 0,
    "query": 1,
    "entity": 1,
    "export": 0,
    "drop-page": 1,
    "unmerge": 2,
    "undo-unmerge": 1,
    "mcp": 0,
    "serve": 0,
}
QUERY_FORMATS = ("table", "json", "csv")
PROPERTY_GRAPH_FORMATS = ("graphml", "neo4j")
MCP_PORT = 8751


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return (
            "stats | query SPARQL | entity NAME | export -f FORMAT -o FILE | drop-page URL"
            " | unmerge ENTITY_IRI NAME | undo-unmerge ENTITY_IRI | serve [--port 8750]"
            " | mcp [--http [--port N]] [--allow-crawl]"
        )

    def short_desc(self) -> str:
        return "Query, export and curate the knowledge graph in GRAPH_STORE"

    def long_desc(self) -> str:
        return (
            "stats: sizes of the graph. query: run SPARQL ('-' reads stdin; prefixes schema:, "
            "rdf:, xsd:, ss: are predeclared), -f table|json|csv. entity: what the graph "
            "knows about an entity (name, alias or IRI), -f table|json. export: write the "
            "graph, -f nquads|turtle|jsonld|jsonl|graphml -o FILE ('-' for stdout), or "
            "-f neo4j -o FOLDER (CSV for neo4j-admin database import). drop-page: "
            "remove a page's facts. unmerge: keep mentions written NAME apart from an "
            "entity; undo-unmerge: forget those rules. serve: a read-only web explorer on "
            "127.0.0.1 (--port, default 8750). mcp: serve the graph to AI assistants "
            "(Model Context Protocol) over stdio, or streamable HTTP on 127.0.0.1 with --http; "
            "--allow-crawl adds a tool that crawls a URL into the graph."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("-f", "--format", dest="format", default=None, help="output format")
        parser.add_argument(
            "-o", "--output", dest="output", default="-", help="output file ('-' = stdout)"
        )
        parser.add_argument(
            "--port",
            dest="port",
            type=int,
            default=None,
            help=f"serve: port (EXPLORER_PORT); mcp --http: port (default {MCP_PORT})",
        )
        parser.add_argument(
            "--limit",
            dest="limit",
            type=int,
            default=ENTITY_PAGES,
            help=f"entity: the most pages listed per entity (default {ENTITY_PAGES}; 0: all)",
        )
        mcp = parser.add_argument_group("graph mcp")
        mcp.add_argument("--http", action="store_true", help="MCP over streamable HTTP")
        mcp.add_argument(
            "--allow-crawl", action="store_true", help="add the crawl_url tool to the MCP server"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args or args[0] not in SUBCOMMANDS:
            raise UsageError(f"expected a subcommand: {', '.join(SUBCOMMANDS)}")
        name, rest = args[0], args[1:]
        if len(rest) != SUBCOMMANDS[name]:
            raise UsageError(f"`graph {name}` takes {SUBCOMMANDS[name]} argument(s)")
        try:
            getattr(self, "_" + name.replace("-", "_"))(opts, *rest)
            sys.stdout.flush()  # a reader gone early shows here, not at interpreter exit
        except GraphStoreError as exc:
            # Escaped (a name may hold terminal codes), redacted (an endpoint's user:pass).
            print(printable(f"error: {redact_text(str(exc))}"), file=sys.stderr)
            self.exitcode = 1
        except BrokenPipeError:
            # The reader stopped early (`| head`): it has all it wanted, so the command ends
            # quietly with status 0. stdout goes to devnull so the exit's flush cannot fail
            # again (as Python's signal documentation advises).
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    def _open(self, *, write: bool = False) -> GraphStore:
        assert self.settings is not None
        store = open_store_from_settings(self.settings, write=write)
        note = getattr(store, "note", None)
        if note:
            print(note, file=sys.stderr)
        return store

    def _format(self, opts: argparse.Namespace, allowed: tuple[str, ...]) -> str:
        fmt = opts.format or allowed[0]
        if fmt not in allowed:
            raise UsageError(f"-f must be one of {', '.join(allowed)}")
        return fmt

    def _stats(self, opts: argparse.Namespace) -> None:
        fmt = self._format(opts, ("table", "json"))
        with self._open() as store:
            numbers = stats(store)
        if fmt == "json":
            print(json.dumps(numbers, indent=2))
            return
        for key, value in numbers.items():
            if isinstance(value, dict):
                print(f"{key}:")
                for sub, count in value.items():
                    print(f"  {sub:<30} {count}")
            else:
                print(f"{key:<32} {value}")

    def _query(self, opts: argparse.Namespace, sparql: str) -> None:
        fmt = self._format(opts, QUERY_FORMATS)
        text = sys.stdin.read() if sparql == "-" else sparql
        with self._open() as store:
            assert self.settings is not None
            allow_service = self.settings.getbool("GRAPH_QUERY_SERVICE")
            format_result(run_query(store, text, allow_service=allow_service), fmt, sys.stdout)

    def _entity(self, opts: argparse.Namespace, name: str) -> None:
        fmt = self._format(opts, ("table", "json"))
        if opts.limit < 0:
            raise UsageError(f"--limit must be 0 (all pages) or more, not {opts.limit}")
        with self._open() as store:
            views = entity_views(store, name, opts.limit or None)
        if fmt == "json":
            print(printable_json(json.dumps(views, indent=2, ensure_ascii=False)))
            return
        for view in views:
            _print_entity(view)

    def _export(self, opts: argparse.Namespace) -> None:
        formats = (*EXPORT_FORMATS, *PROPERTY_GRAPH_FORMATS)
        if opts.format not in formats:
            raise UsageError(f"export needs -f {'|'.join(formats)}")
        if opts.format in PROPERTY_GRAPH_FORMATS:
            self._export_property_graph(opts)
            return
        with self._open() as store, _output(opts.output) as out:
            export(store, opts.format, out)
        if opts.output != "-":
            print(f"exported {opts.format} to {opts.output}", file=sys.stderr)

    def _export_property_graph(self, opts: argparse.Namespace) -> None:
        """GraphML (a file or stdout) or Neo4j import CSV files (a folder)."""
        if opts.format == "neo4j" and opts.output == "-":
            raise UsageError("-f neo4j writes several files: give a folder, -o neo4j-import/")
        with self._open() as store:
            graph = build_property_graph(store)
        size = f"{len(graph.nodes)} nodes and {len(graph.edges)} edges"
        if opts.format == "graphml":
            with _output(opts.output) as out:
                write_graphml(graph, out)
            if opts.output != "-":
                print(f"exported {size} as GraphML to {opts.output}", file=sys.stderr)
            return
        files = write_neo4j_csv(graph, Path(opts.output))
        print(f"exported {size} for Neo4j: {', '.join(map(str, files))}", file=sys.stderr)
        print(f"load them into a new database with: sh {files[-1]} [DATABASE]", file=sys.stderr)

    def _mcp(self, opts: argparse.Namespace) -> None:
        # Imported here: the other subcommands do not pay for loading the MCP SDK.
        from scraper.mcp_server import CrawlTool, ServerConfig, build_server

        settings = self.settings
        assert settings is not None
        crawl = None
        if opts.allow_crawl:
            # The crawl gets the settings given on this command line (-s), as if typed there.
            overrides = [
                arg
                for name, value in settings.items()
                if settings.getpriority(name) == SETTINGS_PRIORITIES["cmdline"]
                for arg in ("-s", f"{name}={value}")
            ]
            crawl = CrawlTool(
                command=[sys.executable, "-m", "scrapy", "crawl", "semantic", *overrides],
                cwd=project_dir(),
                max_pages=settings.getint("MCP_CRAWL_MAX_PAGES"),
                timeout=settings.getfloat("MCP_CRAWL_TIMEOUT"),
            )
        config = ServerConfig(
            open_store=lambda: open_store_from_settings(settings, write=False),
            allow_service=settings.getbool("GRAPH_QUERY_SERVICE"),
            crawl=crawl,
        )
        port = MCP_PORT if opts.port is None else opts.port
        if opts.http:
            refusal = _port_refusal(port)
            if refusal:
                print(f"error: {refusal}", file=sys.stderr)
                self.exitcode = 1
                return
        server = build_server(config)
        if not opts.http:
            server.run("stdio")
            return
        url = f"http://127.0.0.1:{port}/mcp"
        print(f"MCP server (streamable HTTP) on {url}; Ctrl-C stops it", file=sys.stderr)
        server.run("streamable-http", host="127.0.0.1", port=port)

    def _drop_page(self, opts: argparse.Namespace, url: str) -> None:
        with self._open(write=True) as store:
            existed = store.page_state(url) is not None
            removed = store.drop_page(url)
        if not existed:
            raise GraphStoreError(f"the store has no page {url}")
        _say(f"dropped {url}: {removed} facts removed")

    def _unmerge(self, opts: argparse.Namespace, iri: str, name: str) -> None:
        with self._open(write=True) as store:
            pages = unmerge(store, iri, name)
        _say(f"mentions written {name!r} kept apart from {iri}; re-resolved {len(pages)} pages")

    def _undo_unmerge(self, opts: argparse.Namespace, iri: str) -> None:
        with self._open(write=True) as store:
            pages = undo_unmerge(store, iri)
        _say(f"unmerge rules of {iri} removed; re-resolved {len(pages)} pages")

    def _serve(self, opts: argparse.Namespace) -> None:
        # Imported here: the web stack is not loaded by every scrapy command.
        from scraper.explorer.server import serve

        assert self.settings is not None
        port = self.settings.getint("EXPLORER_PORT") if opts.port is None else opts.port
        if not 0 <= port <= 65535:
            raise UsageError(f"--port must be 0-65535 (0: any free port), not {port}")
        graph = live_graph_from_settings(self.settings)
        try:
            serve(
                graph,
                project_path(self.settings.get("REPORT_DIR")),
                port=port,
                allow_service=self.settings.getbool("GRAPH_QUERY_SERVICE"),
            )
        except OSError as exc:
            reason = exc.strerror or str(exc)
            print(f"error: cannot serve on port {port} ({reason}): choose another with --port",
                  file=sys.stderr)  # fmt: skip
            self.exitcode = 1


def _port_refusal(port: int) -> str | None:
    """Why the MCP server could not listen on 127.0.0.1:``port``, or None."""
    if not 1 <= port <= 65535:
        return f"--port must be 1-65535, not {port}"
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            return f"cannot listen on 127.0.0.1:{port} ({exc.strerror}): choose another --port"
    return None


def _output(path: str) -> AbstractContextManager[IO[bytes]]:
    """The export target: a file, or stdout for '-' (left open)."""
    return nullcontext(sys.stdout.buffer) if path == "-" else open(path, "wb")


def _inline(facts: dict[str, list[Any]]) -> str:
    """A page's own node in one line: ``[PostalAddress addressLocality=Dublin]``."""
    kinds = " ".join(facts.get("type", []))
    rest = ", ".join(
        f"{key}={_inline(v) if isinstance(v, dict) else v}"
        for key, values in facts.items()
        if key != "type"
        for v in values
    )
    return f"[{kinds} {rest}]".replace("[ ", "[") if rest else f"[{kinds}]"


def _say(line: str) -> None:
    print(printable(line))


def _print_entity(view: dict[str, Any]) -> None:
    _say(f"{view['name']}  <{view['id']}>")
    _say(f"  types:       {', '.join(view['types'])}")
    for label, key in (("aliases", "aliases"), ("same as", "same_as")):
        if view[key]:
            _say(f"  {label + ':':<12} {', '.join(view[key])}")
    for description in view["descriptions"]:
        _say(f"  description: {description}")
    for attribute, values in view["attributes"].items():
        _say(f"  {attribute}: {', '.join(values)}")
    for rel in view["relations_out"]:
        if "target_facts" in rel:  # a node of the page alone (an offer, an address): inline
            target = _inline(rel["target_facts"])
        else:
            target = rel["target_name"] or rel["target"]
        _say(f"  -> {rel['type']} {target}  ({rel['page']})")
    for rel in view["relations_in"]:
        _say(f"  <- {rel['type']} {rel['source_name'] or rel['source']}  ({rel['page']})")
    _say("  mentions:")
    for m in view["mentions"]:
        key = f" on {m['matched_key']}" if m["matched_key"] else ""
        _say(f"    {m['name']!r} ({m['origin']}, {m['matched_by']}{key})  {m['page']}")
    shown, total = len(view["pages"]), view["counts"]["pages"]
    if shown < total:
        _say(f"  ({shown} of {total} pages listed, with what they say; --limit 0 lists all)")
