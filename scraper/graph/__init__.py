"""Knowledge-graph store: RDF mapping, entity resolution, embedded and SPARQL backends."""

from __future__ import annotations

from pathlib import Path

from scraper import settings as defaults
from scraper.graph.embedded import EmbeddedStore, writer_refusal
from scraper.graph.endpoint import SparqlEndpointStore
from scraper.graph.leases import lease_refusal
from scraper.graph.mapping import PageProvenance
from scraper.graph.store import (
    GraphStore,
    GraphStoreError,
    InvalidPage,
    PageState,
    QuerySyntaxError,
    ReplaceResult,
    StoreLocked,
    StoreUnavailable,
)

__all__ = [
    "EmbeddedStore",
    "GraphStore",
    "GraphStoreError",
    "InvalidPage",
    "PageProvenance",
    "PageState",
    "QuerySyntaxError",
    "ReplaceResult",
    "SparqlEndpointStore",
    "StoreLocked",
    "StoreUnavailable",
    "is_endpoint",
    "open_store",
    "write_refusal",
]


def is_endpoint(location: str) -> bool:
    """True when ``GRAPH_STORE`` names a SPARQL endpoint rather than a folder."""
    return location.startswith(("http://", "https://"))


def store_folder(location: str, base_dir: Path | None) -> Path:
    """The embedded store's folder; a relative one is taken from ``base_dir``."""
    folder = Path(location).expanduser()
    return base_dir / folder if base_dir is not None and not folder.is_absolute() else folder


def open_store(
    location: str,
    *,
    write: bool,
    base_dir: Path | None = None,
    update_url: str | None = None,
    timeout: float = defaults.GRAPH_STORE_TIMEOUT,
    lock_timeout: float = defaults.GRAPH_STORE_LOCK_TIMEOUT,
    snapshot_interval: float = defaults.GRAPH_SNAPSHOT_INTERVAL,
) -> GraphStore:
    """Open the store ``GRAPH_STORE`` names; a relative folder is taken from ``base_dir``.

    ``write`` opens the embedded store as its single writer; readers never block a writer.
    """
    if is_endpoint(location):
        return SparqlEndpointStore(location, update_url=update_url, timeout=timeout)
    folder = store_folder(location, base_dir)
    if write:
        return EmbeddedStore.open_writer(
            folder, lock_timeout=lock_timeout, snapshot_interval=snapshot_interval
        )
    return EmbeddedStore.open_reader(folder)


def write_refusal(
    location: str,
    *,
    base_dir: Path | None = None,
    timeout: float = defaults.GRAPH_STORE_TIMEOUT,
    holder: str | None = None,
) -> str | None:
    """Why a crawl could not write to the store ``GRAPH_STORE`` names now, or None.

    Asked before a crawl starts, so a refused crawl opens no output file. A lease that
    ``holder`` holds (the crawl a fleet worker joins) is no refusal.
    """
    if is_endpoint(location):
        store = SparqlEndpointStore(location, timeout=timeout)
        try:
            return lease_refusal(store, holder)
        except GraphStoreError:
            return None  # an unreachable store is reported by the crawl itself
        finally:
            store.close()
    return writer_refusal(store_folder(location, base_dir))
