"""Worker processes for the CPU-bound stages: the render decision, cleaning and chunking.

Cleaning a page holds a core for ~140 ms (a hostile page for minutes); on the crawl's event
loop that stops every download, LLM answer and graph write meanwhile, and a crawl uses one
core. :class:`CleanPool` runs such a function in a pool of worker processes instead and
awaits its result without blocking the loop. Each call is bounded: past ``timeout`` seconds
the worker is killed (``clean_timeout``), a worker that dies or runs out of its
``max_memory_mb`` of address space ends the call as ``clean_crashed``, an exception as
``clean_error``; a new worker takes the dead one's place. Workers are forked from a
``forkserver``: a fresh single-threaded process that imports the stages and runs each once
(:mod:`scraper.clean.worker_preload`), so a worker starts warm in milliseconds instead of
seconds of imports and lazy set-up, yet never inherits the crawl's threads (forking a
process that runs threads can copy a held lock and hang). Workers are replaced after
:data:`TASKS_PER_WORKER` calls, so memory the parsers leave fragmented does not grow over a
long crawl. ``workers=0`` runs every call inline, for debugging.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

import pebble
from htmldate.extractors import get_external_parser

from scraper.chunk import chunk_markdown
from scraper.clean.page import clean_page
from scraper.fetch.rendering import render_reason

P = ParamSpec("P")
T = TypeVar("T")

# Calls before a worker is replaced by a fresh one (forked warm: a start costs milliseconds).
TASKS_PER_WORKER = 500
# Calls per worker, running or queued, past which :meth:`CleanPool.room` waits: one running
# and one ready to start keep every worker busy.
BACKLOG_PER_WORKER = 2
_WARM_UP_PAGE = "<html><head><title>t</title></head><body><main><p>warm up</p></main></body></html>"
_NO_DATE = "zz 7 qq"  # a text no locale reads: dateparser tries, and so compiles, every one


class CleanFailed(Exception):
    """A call that ended without a result: ``reason`` is ``clean_timeout``,
    ``clean_crashed`` or ``clean_error``, ``detail`` says what happened."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def warm_up() -> None:
    """Run each stage once, so that their lazy set-up is done: trafilatura's and the
    tokenizer's, and the patterns dateparser compiles for each of its ~200 locales the first
    time a text is tried against them (htmldate reads dates in a page's text with it: ~2 s,
    paid again by every fresh worker within its first pages' time limits)."""
    render_reason(_WARM_UP_PAGE)
    content = clean_page(_WARM_UP_PAGE, "http://localhost/")
    chunk_markdown(content.markdown)
    get_external_parser().get_date_data(_NO_DATE)


def _start_worker(max_memory_mb: int) -> None:
    """Bound the worker's memory (it was forked warm: see :func:`warm_up`)."""
    if max_memory_mb:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (max_memory_mb * 2**20, hard))


def _worker_context() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["scraper.clean.worker_preload"])
    return context


def _started_in_thread(pool: pebble.ProcessPool) -> Future[None]:
    """Start ``pool``'s workers and threads (it does so on its first call) in a thread."""
    started: Future[None] = Future()

    def start() -> None:
        try:
            pool.schedule(int)
        except BaseException as exc:  # the caller's await raises it
            started.set_exception(exc)
        else:
            started.set_result(None)

    threading.Thread(target=start, name="clean-pool-start", daemon=True).start()
    return started


def default_workers() -> int:
    """One worker per core this process may run on."""
    return len(os.sched_getaffinity(0))


class CleanPool:
    """Run picklable functions in worker processes, each call bounded in time and memory."""

    def __init__(self, workers: int, timeout: float, max_memory_mb: int) -> None:
        self.workers = workers
        self.timeout = timeout
        self.max_memory_mb = max_memory_mb
        self._pool: pebble.ProcessPool | None = None
        self._started: Future[None] | None = None  # done once the pool's workers are up
        self.calls = 0  # calls running or queued
        self.waiting = 0  # callers of room() waiting for it
        self._room = asyncio.Event()

    @property
    def inline(self) -> bool:
        return self.workers == 0

    def start(self) -> None:
        """Start the workers, from a thread: the forkserver's first fork waits for its warm-up
        (~3 s), and the crawl's first pages download meanwhile."""
        if self.inline or self._starting_or_active():
            return
        self._pool = pebble.ProcessPool(
            max_workers=self.workers,
            max_tasks=TASKS_PER_WORKER,
            initializer=_start_worker,
            initargs=(self.max_memory_mb,),
            context=_worker_context(),
        )
        self._started = _started_in_thread(self._pool)

    def _starting_or_active(self) -> bool:
        # A pool's ``active`` starts it when it has not started: not on this thread.
        if self._pool is None or self._started is None:
            return False
        return not self._started.done() or self._pool.active

    async def _running_pool(self) -> pebble.ProcessPool:
        self.start()
        assert self._pool is not None and self._started is not None, "started above"
        pool = self._pool
        if not self._started.done():  # else no turn of the loop between this and the call
            await asyncio.wrap_future(self._started)
        self._started.result()  # raises what starting raised
        return pool

    def close(self) -> None:
        """Stop the workers (calls still running end as ``clean_crashed``)."""
        if self._pool is not None:
            assert self._started is not None, "set with the pool"
            self._started.exception()  # a pool still starting is stopped once it runs
            self._pool.stop()
            self._pool.join()
            self._pool = None

    async def room(self) -> None:
        """Return once the workers have room for more calls (:data:`BACKLOG_PER_WORKER`):
        a crawl that waits for it before each download fetches no faster than its pages are
        cleaned, so pages waiting for a worker neither pile up in memory nor, when the crawl
        is killed, need fetching again."""
        self.waiting += 1  # seen by others only while this awaits
        try:
            while self.calls >= BACKLOG_PER_WORKER * self.workers > 0:
                self._room.clear()
                await self._room.wait()
        finally:
            self.waiting -= 1

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``function(*args, **kwargs)`` in a worker; raises :class:`CleanFailed`."""
        self.calls += 1
        try:
            return await self._run(function, *args, **kwargs)
        finally:
            self.calls -= 1
            self._room.set()

    async def _run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self.inline:
            try:
                return function(*args, **kwargs)
            except MemoryError as exc:
                raise CleanFailed("clean_crashed", "out of memory") from exc
            except Exception as exc:  # a bug in a stage costs one page, not the crawl
                raise CleanFailed("clean_error", f"{type(exc).__name__}: {exc}") from exc
        pool = await self._running_pool()
        try:
            future = pool.schedule(function, args, kwargs, timeout=self.timeout)
        except RuntimeError:  # the pool broke (a worker died while none was busy): renew it
            self.close()
            pool = await self._running_pool()
            future = pool.schedule(function, args, kwargs, timeout=self.timeout)
        try:
            return await asyncio.wrap_future(future)
        except Exception as exc:
            raise self._failure(exc) from exc

    def _failure(self, exc: Exception) -> CleanFailed:
        # Exceptions raised by the function carry the worker's traceback; the pool's own
        # (time limit, dead worker) do not.
        remote = hasattr(exc, "traceback")
        if isinstance(exc, TimeoutError) and not remote:
            return CleanFailed(
                "clean_timeout", f"no result after {self.timeout:g} s (CLEAN_TIMEOUT)"
            )
        if isinstance(exc, pebble.ProcessExpired) and not remote:
            return CleanFailed(
                "clean_crashed", f"the worker process died (exit code {exc.exitcode})"
            )
        if isinstance(exc, BrokenProcessPool):
            return CleanFailed("clean_crashed", f"the worker pool broke: {exc}")
        if isinstance(exc, MemoryError):
            return CleanFailed(
                "clean_crashed", f"out of memory (CLEAN_MAX_MEMORY_MB={self.max_memory_mb})"
            )
        return CleanFailed("clean_error", f"{type(exc).__name__}: {exc}")
