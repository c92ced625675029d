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
# Bounds that stop a site from generating pages without end (a calendar that links every next
# month ran 7,889 pages in a minute). A link past them is not followed and is counted as
# pages/cut_off/<reason> in the stats and the crawl summary; 0 turns a bound off.
DEPTH_LIMIT = 20  # links from a start page (Scrapy's own setting; -a depth sets it)
CRAWL_MAX_PAGES = 10_000  # pages a crawl schedules (-a max_pages wins)
SITE_MAX_PAGES = 5_000  # pages of one host
# New URLs a URL pattern (numbers -> {n}, hex ids -> {id}: /calendar/{n}/{n}) may add from
# pages of that same pattern: a pattern that keeps producing itself is a trap.
URL_PATTERN_MAX_PAGES = 100
# A path repeating a run of segments more than this many times in a row (/a/b/a/b/a/b/).
URL_MAX_REPEATED_SEGMENTS = 2
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
# Refuse requests to private, loopback, link-local and reserved addresses: Scrapy's requests
# (checked on the address each connection uses), the browser's (every navigation, redirect and
# subresource goes through a checking proxy) and fetch_html's.
ALLOW_PRIVATE_ADDRESSES = False
# Hosts that may be private all the same: "intranet.local", "127.0.0.1:8000", "[::1]:8080".
ALLOWED_PRIVATE_HOSTS: list[str] = []
# Scrapy's caching resolver, which also refuses answers the address policy does not allow.
TWISTED_DNS_RESOLVER = "scraper.resolver.AddressPolicyResolver"
# Keep the raw HTML in exported records.
EXPORT_HTML = False

DOWNLOADER_MIDDLEWARES = {
    "scraper.middlewares.PrivateAddressMiddleware": 50,
    "scraper.middlewares.FleetPolitenessMiddleware": 60,  # on with FLEET_DOMAIN_DELAY > 0
    "scraper.middlewares.CleanBacklogMiddleware": 70,  # downloads wait for the clean workers
    # robots.txt as RFC 9309 reads it: 5xx, 429 or no answer refuses the site for a while,
    # 4xx allows everything, only the first 500 KiB are parsed.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "scraper.robotstxt.RobotsTxtMiddleware": 100,
}
# Seconds before a site whose robots.txt was unreachable (5xx, 429, no answer) is asked again;
# until then its pages are refused (robots_unreachable).
ROBOTSTXT_RETRY_SECONDS = 300.0

ITEM_PIPELINES = {
    "scraper.pipelines.cleaning.CleaningPipeline": 100,
    "scraper.pipelines.chunking.ChunkingPipeline": 200,
    "scraper.pipelines.extraction.ExtractionPipeline": 300,
    "scraper.pipelines.graph.GraphPipeline": 400,
    "scraper.pipelines.outcome.OutcomePipeline": 900,
    "scraper.pipelines.fleet.FleetPipeline": 950,  # on with REDIS_URL only
}

# --- render ---------------------------------------------------------------
# never | always | auto (auto renders only pages that look like an empty JS shell)
RENDER_MODE = "auto"
DOWNLOAD_HANDLERS = {
    "http": "scraper.downloadhandlers.GuardedPlaywrightDownloadHandler",
    "https": "scraper.downloadhandlers.GuardedPlaywrightDownloadHandler",
    # Only the web: a page's links to file:, data:, ftp: or s3: URLs are never loaded.
    "file": None,
    "data": None,
    "ftp": None,
    "s3": None,
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
        # A page's scripts' heap is capped per renderer: a page that allocates without end
        # crashes its own renderer, not the machine.
        "--js-flags=--max-old-space-size=512",
    ],
}
PLAYWRIGHT_MAX_CONTEXTS = 2
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 4
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 30_000

# --- clean ----------------------------------------------------------------
# Bytes of JSON a page's structured data (JSON-LD, microdata, RDFa, OpenGraph together) may
# hold: about 1,000 products with offers and brands. Items past it are skipped and listed in
# the record's structured_data_skipped (2.9 MB of JSON-LD took minutes and gigabytes).
STRUCTURED_DATA_MAX_BYTES = 256 * 1024
# The render decision, cleaning and chunking run in worker processes, never on the crawl's
# event loop (a page holds a core for ~140 ms, a hostile one for minutes): None starts one
# per core, 0 runs them inline (for debugging; no time or memory limit then).
CLEAN_WORKERS = None
# Seconds of a worker per page (and per chunking); past it the page fails as clean_timeout.
CLEAN_TIMEOUT = 30.0
# Address space of a worker in MB; a page past it fails as clean_crashed (0: no limit).
CLEAN_MAX_MEMORY_MB = 2048

# --- chunk ----------------------------------------------------------------
CHUNK_ENCODING = "o200k_base"
CHUNK_SIZE_TOKENS = 800
CHUNK_OVERLAP_TOKENS = 80
# A page cut into more chunks is not sent to the LLM (1 MB of garbage text is ~1,000 calls):
# its extraction fails as too_many_chunks, its structured data is kept.
CHUNK_MAX_PER_PAGE = 100

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
# Pages written per store transaction (each page still all or nothing), and the most seconds
# a page waits for others to fill its batch once the writer is free (a slow crawl writes anyway).
GRAPH_WRITE_BATCH = 16
GRAPH_WRITE_WAIT = 0.2
GRAPH_STORE_LOCK_TIMEOUT = 10.0  # seconds a writer waits for the embedded store's lock
GRAPH_SNAPSHOT_INTERVAL = 10.0  # seconds between snapshots readers see during a crawl
# `scrapy graph query` with SERVICE <url> (federation) makes the store send requests to any
# server the query names: off unless set.
GRAPH_QUERY_SERVICE = False
# `scrapy graph mcp --allow-crawl`: the most pages one crawl_url call may fetch, and seconds
# before such a crawl is stopped (the pages it finished stay in the graph).
MCP_CRAWL_MAX_PAGES = 50
MCP_CRAWL_TIMEOUT = 600.0
# `scrapy graph serve`: the web explorer's port on 127.0.0.1 (--port overrides; 0 = any free).
EXPLORER_PORT = 8750
# Seconds before the explorer's name index (search as you type) is rebuilt from a changed store.
EXPLORER_INDEX_REFRESH = 30.0

# --- re-crawl -------------------------------------------------------------
EXTENSIONS = {
    "scraper.extensions.RedactLogs": 0,
    # Scrapy's feed exporter, through which a fleet worker finishes each page it records
    "scrapy.extensions.feedexport.FeedExporter": None,
    "scraper.extensions.FeedExporter": 0,
    "scraper.extensions.StopOnWriteFailure": 100,
    "scraper.extensions.FleetWorker": 110,  # on with REDIS_URL only (see Scaling out)
    "scraper.extensions.CleanWorkers": 120,  # the worker processes of CLEAN_WORKERS
    "scraper.extensions.CrawlReport": 500,
}
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

# --- scaling out (many workers, one crawl) -----------------------------------
# The URL of the Redis the workers share (scrapy-redis's setting): set, the crawl is one worker
# of a fleet: the frontier, dupefilter, stats, LLM cache, spend and failures live in Redis.
REDIS_URL = None
FLEET_NAME = "semantic"  # prefix of the crawl's Redis keys: one name per crawl
# A worker that sent no heartbeat for this many seconds is presumed dead: the requests it
# took go back to the queue (it beats every quarter of it, from a thread).
FLEET_WORKER_TIMEOUT = 30.0
# True: a worker stops when the whole fleet's frontier is empty (no request queued or taken);
# False: it keeps waiting for new requests (another `scrapy crawl` seeding more).
FLEET_CLOSE_WHEN_EMPTY = True
# Seconds between two requests to one host from the whole fleet (0: no fleet-wide spacing;
# each worker still applies DOWNLOAD_DELAY and AutoThrottle on its own).
FLEET_DOMAIN_DELAY = 0.0
