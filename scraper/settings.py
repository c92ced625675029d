"""Settings of the semantic-scraper Scrapy project.

Every setting a user can change is listed here with its default and in the
README. Override with ``-s NAME=value`` or in a project of your own.
"""

import schemas

BOT_NAME = "semantic-scraper"
SPIDER_MODULES = ["scraper.spiders"]
NEWSPIDER_MODULE = "scraper.spiders"
COMMANDS_MODULE = "scraper.commands"

# --- crawl ----------------------------------------------------------------
USER_AGENT = "semantic-scraper/0.1 (+https://github.com/semantic-scraper/semantic-scraper)"
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024  # bigger responses are cancelled and recorded as too_large
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
REDIRECT_MAX_TIMES = 10
RETRY_TIMES = 2
LOGSTATS_INTERVAL = 30.0
FEED_EXPORT_ENCODING = "utf-8"
# JSON lines, JSON, CSV (nested fields JSON-encoded) and XML; the other formats Scrapy knows
# cannot hold a page record as it is, so -O pages.marshal is refused.
FEED_EXPORTERS = {
    "csv": "scraper.exporters.CsvPageExporter",
    "xml": "scraper.exporters.XmlPageExporter",
    "marshal": None,
    "pickle": None,
}
# Progress lines and the end-of-crawl summary, not Scrapy's DEBUG line per request and per
# record (a whole record each); -L DEBUG (or -s LOG_LEVEL=DEBUG) brings them back.
LOG_LEVEL = "INFO"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# Refuse requests to private, loopback, link-local and reserved addresses.
ALLOW_PRIVATE_ADDRESSES = False
# Keep the raw HTML in exported records.
EXPORT_HTML = False

DOWNLOADER_MIDDLEWARES = {
    "scraper.middlewares.PrivateAddressMiddleware": 50,
}

ITEM_PIPELINES = {
    "scraper.pipelines.cleaning.CleaningPipeline": 100,
    "scraper.pipelines.chunking.ChunkingPipeline": 200,
    "scraper.pipelines.extraction.ExtractionPipeline": 300,
    "scraper.pipelines.graph.GraphPipeline": 400,
    "scraper.pipelines.outcome.OutcomePipeline": 900,
}

# --- render ---------------------------------------------------------------
# never | always | auto (auto renders only pages that look like an empty JS shell)
RENDER_MODE = "auto"
DOWNLOAD_HANDLERS = {
    "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
    "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
}
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_LAUNCH_OPTIONS = {
    "executable_path": "/usr/bin/chromium",
    "headless": True,
    "args": [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ],
}
PLAYWRIGHT_MAX_CONTEXTS = 2
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 4
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 30_000

# --- chunk ----------------------------------------------------------------
CHUNK_ENCODING = "o200k_base"
CHUNK_SIZE_TOKENS = 800
CHUNK_OVERLAP_TOKENS = 80

# --- extract (LLM, cache, cost) ------------------------------------------
# The LLM is on when OPENAI_API_KEY or OPENAI_BASE_URL is set (read as the openai SDK
# does); without either, only structured data (JSON-LD, microdata) is extracted.
LLM_MODEL = "gpt-4o-mini"
LLM_PROMPT_VERSION = "extract_v1"  # prompts/<version>.md; part of every cache key
# schemas.knowledge_graph:KnowledgeGraph unless -a schema=pkg.mod:Model names another
EXTRACTION_SCHEMA = schemas.DEFAULT_SCHEMA
LLM_CONCURRENCY = 16  # LLM calls in flight at once, across all pages
LLM_TIMEOUT = 120.0  # seconds per call
LLM_MAX_RETRIES = 4  # retries of a call on 429, 5xx, timeouts and connection errors
LLM_BACKOFF_INITIAL = 1.0  # seconds; exponential with jitter, Retry-After wins
LLM_BACKOFF_MAX = 60.0
LLM_MAX_REASKS = 2  # re-asks with the validation errors when an answer is invalid
LLM_MAX_TOKENS = 4096  # answer budget per call
LLM_TEMPERATURE = 0.0
# auto (find the best the server takes) | json_schema | json_object_schema | json_object | prompt
LLM_RESPONSE_FORMAT = "auto"
# Failed attempts in a row (refused connections, unknown host, 5xx) that stop the LLM calls for
# the crawl; a bad key (401/403), an unknown model (404) or no quota stops them at once.
LLM_FAIL_FAST_AFTER = 5
# An answer cut at LLM_MAX_TOKENS that repeats itself (a decoding loop) is asked once more with
# this frequency_penalty before it counts as truncated.
LLM_LOOP_PENALTY = 0.5
LLM_CACHE_ENABLED = True
LLM_CACHE_DIR = ".semantic/llm-cache"
LLM_PRICES: dict[
    str, list[float]
] = {}  # {"model": [input, output] USD per 1M tokens}, over the built-in table
LLM_BUDGET_USD = None  # no more LLM calls once this much was spent (pages still recorded)
LLM_AUDIT_LOG = None  # path of a JSON-lines log of every LLM request/response (keys redacted)
FAILURES_FILE = ".semantic/failures.jsonl"  # failed extractions, for `scrapy retry_failed`

# --- graph store ----------------------------------------------------------
# A folder for the embedded pyoxigraph store (relative to the project directory) or the
# URL of a SPARQL 1.1 endpoint, e.g. http://127.0.0.1:7878 for `oxigraph serve`.
GRAPH_STORE = ".semantic/graph"
# Where the endpoint takes updates; "" derives it (…/query -> …/update, server root -> /update).
GRAPH_STORE_UPDATE_URL = ""
GRAPH_STORE_TIMEOUT = 30.0  # seconds per SPARQL request
GRAPH_STORE_RETRY_TIMES = 2  # extra attempts of a page write while the store is unreachable
GRAPH_STORE_LOCK_TIMEOUT = 10.0  # seconds a writer waits for the embedded store's lock
GRAPH_SNAPSHOT_INTERVAL = 10.0  # seconds between snapshots readers see during a crawl
# `scrapy graph query` with SERVICE <url> (federation) makes the store send requests to any
# server the query names: off unless set.
GRAPH_QUERY_SERVICE = False
# `scrapy graph serve`: the web explorer's port on 127.0.0.1 (--port overrides; 0 = any free).
EXPLORER_PORT = 8750
# Seconds before the explorer's name index (search as you type) is rebuilt from a changed store.
EXPLORER_INDEX_REFRESH = 30.0

# --- re-crawl -------------------------------------------------------------
EXTENSIONS = {"scraper.extensions.CrawlReport": 500}
# Every crawl writes its report (pages new/changed/unchanged/removed, LLM use, graph changes)
# here as <spider>-<UTC time>.json; relative to the project folder.
REPORT_DIR = ".semantic/reports"
# Scrapy's HTTP cache with its RFC 2616 policy keeps each page's last response (in
# .scrapy/httpcache of the project) and revalidates it on every fetch (the requests say
# Cache-Control: max-age=0): a 304 is answered with the stored body, so a re-crawl's
# records are complete, while an unchanged page costs no download and no LLM call.
# Without it, an unchanged page is a 304 record without content.
HTTPCACHE_ENABLED = True
HTTPCACHE_POLICY = "scrapy.extensions.httpcache.RFC2616Policy"
HTTPCACHE_DIR = "httpcache"
# Feed files get every record as it is written, so a killed crawl loses none it finished.
FEED_STORAGES = {
    "": "scraper.feedstorage.UnbufferedFileFeedStorage",
    "file": "scraper.feedstorage.UnbufferedFileFeedStorage",
}
# Re-check every in-scope page the graph store already holds, linked or not.
RECRAWL_KNOWN_PAGES = True
# Keep the facts of a page that now answers 404 or 410 (marked for retry) instead of removing them.
KEEP_REMOVED_PAGES = False
# A crawl writing to a SPARQL endpoint holds a lease in the store, renewed every third of
# this many seconds, so an overlapping crawl is refused; a killed crawl's lease ends after it.
GRAPH_LEASE_SECONDS = 120.0
