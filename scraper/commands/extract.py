"""``scrapy extract URL``: one page's facts (or Markdown), with no crawl and no store.

A thin adapter over :func:`scraper.api.scrape`: the page is fetched with the crawl's
address policy (``ALLOW_PRIVATE_ADDRESSES``), cleaned, chunked (``CHUNK_*``) and
extracted with ``LLM_MODEL`` when ``OPENAI_API_KEY``/``OPENAI_BASE_URL`` is set.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from schemas import SchemaError, load_schema
from scraper.api import FetchError, scrape
from scraper.config import chunk_config, llm_settings
from scraper.extract.llm import llm_configured
from scraper.facts import ExtractionStatus
from scraper.redaction import redact_text
from scraper.spiders.arguments import ArgumentError


class Command(ScrapyCommand):
    requires_project = False
    requires_crawler_process = False
    default_settings = {"LOG_LEVEL": "WARNING"}

    def syntax(self) -> str:
        return "URL [-o out.json] [--schema package.module:Model] [--markdown]"

    def short_desc(self) -> str:
        return "Print one page's extracted facts as JSON (or its Markdown), without a crawl"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")
        parser.add_argument(
            "--schema", metavar="package.module:Model", help="the Pydantic model to fill"
        )
        parser.add_argument(
            "-a", dest="spargs", action="append", default=[], metavar="NAME=VALUE",
            help="schema=package.module:Model (as for scrapy crawl)",
        )  # fmt: skip
        parser.add_argument(
            "--markdown", action="store_true", help="print the page's Markdown, not the facts"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one URL")
        assert self.settings is not None
        arguments = dict(_argument(a) for a in opts.spargs)
        unknown = set(arguments) - {"schema"}
        if unknown:
            raise UsageError(f"unknown argument(s): {', '.join(sorted(unknown))}")
        schema_name = (
            opts.schema or arguments.get("schema") or self.settings.get("EXTRACTION_SCHEMA")
        )
        try:
            schema = load_schema(schema_name)
            chunking = chunk_config(self.settings)
            result = scrape(
                args[0],
                schema=schema,
                allow_private_addresses=self.settings.getbool("ALLOW_PRIVATE_ADDRESSES"),
                allowed_private_hosts=self.settings.getlist("ALLOWED_PRIVATE_HOSTS"),
                llm_settings=llm_settings(self.settings),
                chunk_size=chunking.size,
                chunk_overlap=chunking.overlap,
            )
        except (SchemaError, FetchError, ValueError, ArgumentError) as exc:
            self._fail(str(exc))
            return
        facts = result.facts
        if opts.markdown:
            text = result.markdown + "\n"
        else:
            record = {
                "url": result.url,
                "title": result.page.title,
                "extraction": facts.as_dict(),
            }
            text = json.dumps(record, ensure_ascii=False, indent=2) + "\n"
        if opts.output:
            Path(opts.output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        if not llm_configured() and not opts.markdown:
            print(
                "No LLM configured: structured data only (set OPENAI_API_KEY or "
                "OPENAI_BASE_URL to extract the page text).",
                file=sys.stderr,
            )
        if facts.status is ExtractionStatus.FAILED:
            self._fail(f"LLM extraction failed: {facts.failure_reason}")

    def _fail(self, message: str) -> None:
        print(f"Error: {redact_text(message)}", file=sys.stderr)
        self.exitcode = 1


def _argument(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise UsageError(f"-a expects NAME=VALUE, got {text!r}")
    return name, value
