"""The graph for a long-running reader (the web explorer): never in a crawl's way.

A SPARQL endpoint is shared as it is. An embedded store is read through the newest
snapshot its writer published (every ``GRAPH_SNAPSHOT_INTERVAL`` seconds during a crawl and
when the writer closes), opened read-only and swapped when a newer one appears: the
database itself stays free, so a crawl can start while the reader runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyoxigraph

from scraper import settings as defaults
from scraper.graph import (
    EmbeddedStore,
    GraphStore,
    GraphStoreError,
    is_endpoint,
    open_store,
    store_folder,
)
from scraper.graph.embedded import newest_snapshot
from scraper.graph.name_index import NameIndex
from scraper.graph.queries import name_index
from scraper.graph.store import StoreUnavailable

logger = logging.getLogger(__name__)


class LiveGraph:
    """Hands out the freshest readable view of the store ``location`` names."""

    def __init__(
        self,
        location: str,
        *,
        base_dir: Path | None = None,
        update_url: str | None = None,
        timeout: float = defaults.GRAPH_STORE_TIMEOUT,
        index_refresh: float = defaults.EXPLORER_INDEX_REFRESH,
    ):
        self._lock = threading.Lock()
        self._snapshot: Path | None = None
        self._current: GraphStore | None = None
        self.index_refresh = index_refresh
        self._index: NameIndex | None = None
        self._index_source: Path | None = None  # the snapshot the index was built from
        self._index_built = 0.0  # time.monotonic()
        self._index_lock = threading.Lock()  # one build at a time
        if is_endpoint(location):
            self._current = open_store(
                location, write=False, update_url=update_url, timeout=timeout
            )
            self.folder: Path | None = None
            self.location = self._current.location
            return
        self.folder = store_folder(location, base_dir)
        self.location = str(self.folder)
        if not (self.folder / "db").is_dir():
            raise GraphStoreError(
                f"no graph store at {self.folder}: run a crawl first, or set GRAPH_STORE"
            )

    @contextmanager
    def reading(self) -> Iterator[GraphStore]:
        """The store to answer one request with."""
        if self.folder is None:
            assert self._current is not None
            yield self._current
            return
        snapshot = newest_snapshot(self.folder)
        if snapshot is None:  # written by a writer that published none: read the database
            with EmbeddedStore.open_reader(self.folder) as store:
                yield store
            return
        yield self._opened(snapshot)

    def _opened(self, snapshot: Path) -> GraphStore:
        with self._lock:
            if snapshot != self._snapshot or self._current is None:
                try:
                    store = pyoxigraph.Store.read_only(str(snapshot))
                except OSError as exc:
                    raise StoreUnavailable(f"cannot open the snapshot {snapshot}: {exc}") from exc
                # The previous view is dropped, not closed: requests still reading it finish.
                assert self.folder is not None
                self._current = EmbeddedStore(store, self.folder, writer=False)
                self._snapshot = snapshot
            return self._current

    def names(self) -> NameIndex:
        """The name index for search: built now the first time, later rebuilt in the
        background when stale."""
        if self._index is None:
            with self._index_lock:
                if self._index is None:
                    self._build_index()
        elif self._index_stale() and self._index_lock.acquire(blocking=False):
            threading.Thread(target=self._rebuild_index, daemon=True).start()
        assert self._index is not None
        return self._index

    def _index_stale(self) -> bool:
        if time.monotonic() - self._index_built < self.index_refresh:
            return False
        return self.folder is None or newest_snapshot(self.folder) != self._index_source

    def _rebuild_index(self) -> None:
        try:
            self._build_index()
        except Exception as exc:  # the old index keeps answering; a later search tries again
            logger.warning("could not rebuild the name index: %s", exc)
            self._index_built = time.monotonic()
        finally:
            self._index_lock.release()

    def _build_index(self) -> None:
        source = None if self.folder is None else newest_snapshot(self.folder)
        with self.reading() as store:
            index = name_index(store)
        self._index, self._index_source = index, source
        self._index_built = time.monotonic()

    @property
    def snapshot(self) -> Path | None:
        """The snapshot read now (None for an endpoint, or before the first request)."""
        return self._snapshot

    def close(self) -> None:
        with self._lock:
            if self._current is not None:
                self._current.close()
            self._current = None
