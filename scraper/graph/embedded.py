"""Embedded graph store: pyoxigraph (RocksDB) on disk, one writer, readers via snapshots.

Layout of a ``GRAPH_STORE`` folder::

    <folder>/db/                  the RocksDB database (one writing process at a time)
    <folder>/snapshots/<stamp>/   consistent checkpoints the writer publishes
    <folder>/writer.json          who writes now (pid, command, since)

RocksDB allows one process to open a database for writing, and pyoxigraph 0.5 documents
opening it read-only while another process writes as undefined behaviour (0.5 has no
secondary instances). So the writer publishes cheap checkpoints (hard links) every
``snapshot_interval`` seconds and when it closes; a reader opens the database itself when
nobody writes, otherwise the newest checkpoint, read-only and consistent.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyoxigraph
from pyoxigraph import NamedNode, Quad

from scraper import settings as defaults
from scraper.graph.store import (
    GraphStore,
    GraphStoreError,
    QuerySyntaxError,
    StoreLocked,
    StoreUnavailable,
)

# Superseded checkpoints stay this long so readers that opened one can finish.
SNAPSHOT_GRACE_SECONDS = 600.0
_LOCK_POLL_SECONDS = 0.2


def _is_lock_error(exc: OSError) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("unavailable" in text or "hold" in text or "no locks" in text)


def _writer_description(folder: Path) -> str:
    try:
        info = json.loads((folder / "writer.json").read_text())
    except (OSError, ValueError):
        return "another process"
    return f"process {info.get('pid')} ({info.get('command', '?')}, since {info.get('since', '?')})"


def _locked_message(folder: Path) -> str:
    return (
        f"the graph store {folder} is in use by {_writer_description(folder)}. "
        "The embedded store allows one writing process at a time: wait for it to finish, "
        "or set GRAPH_STORE to a SPARQL endpoint URL (e.g. `oxigraph serve`) to share a "
        "store between crawls. `scrapy graph` read commands keep working meanwhile."
    )


class EmbeddedStore(GraphStore):
    """A pyoxigraph store in ``folder``; open it with ``open_writer`` or ``open_reader``."""

    def __init__(
        self,
        store: pyoxigraph.Store,
        folder: Path,
        *,
        writer: bool,
        snapshot_interval: float = 0.0,
        note: str | None = None,
    ):
        self._store: pyoxigraph.Store | None = store
        self.folder = folder
        self.location = str(folder)
        self.writer = writer
        self.snapshot_interval = snapshot_interval
        self.note = note  # shown to users when they read a snapshot
        self._last_snapshot = 0.0

    @classmethod
    def open_writer(
        cls,
        folder: str | Path,
        *,
        lock_timeout: float = defaults.GRAPH_STORE_LOCK_TIMEOUT,
        snapshot_interval: float = defaults.GRAPH_SNAPSHOT_INTERVAL,
    ) -> EmbeddedStore:
        """Open for writing, waiting up to ``lock_timeout`` s for another writer to leave.

        Raises StoreLocked with a message for users when the store stays busy.
        """
        folder = Path(folder)
        (folder / "snapshots").mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + lock_timeout
        while True:
            try:
                store = pyoxigraph.Store(str(folder / "db"))
                break
            except OSError as exc:
                if not _is_lock_error(exc):
                    raise StoreUnavailable(f"cannot open the graph store {folder}: {exc}") from exc
                if time.monotonic() >= deadline:
                    raise StoreLocked(_locked_message(folder)) from None
                time.sleep(_LOCK_POLL_SECONDS)
        info = {
            "pid": os.getpid(),
            "command": " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv)),
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (folder / "writer.json").write_text(json.dumps(info))
        writer = cls(store, folder, writer=True, snapshot_interval=snapshot_interval)
        writer.publish_snapshot()
        return writer

    @classmethod
    def open_reader(cls, folder: str | Path) -> EmbeddedStore:
        """Open for reading: the database when nobody writes it, else its newest snapshot."""
        folder = Path(folder)
        if not (folder / "db").is_dir():
            raise GraphStoreError(
                f"no graph store at {folder}: run a crawl first, or set GRAPH_STORE"
            )
        try:
            return cls(pyoxigraph.Store(str(folder / "db")), folder, writer=False)
        except OSError as exc:
            if not _is_lock_error(exc):
                raise StoreUnavailable(f"cannot open the graph store {folder}: {exc}") from exc
        snapshot = newest_snapshot(folder)
        if snapshot is None:
            raise StoreLocked(_locked_message(folder) + " (no snapshot has been published yet)")
        stamp = time.strftime("%H:%M:%S", time.localtime(snapshot.stat().st_mtime))
        note = (
            f"note: {_writer_description(folder)} has this store open; "
            f"showing its snapshot of {stamp}"
        )
        try:
            store = pyoxigraph.Store.read_only(str(snapshot))
        except OSError as exc:
            raise StoreUnavailable(f"cannot open the snapshot {snapshot}: {exc}") from exc
        return cls(store, folder, writer=False, note=note)

    @property
    def store(self) -> pyoxigraph.Store:
        if self._store is None:
            raise GraphStoreError("the graph store is closed")
        return self._store

    def query(self, sparql: str, default_graphs: list[NamedNode] | None = None):
        try:
            graphs: list[Any] | None = None if default_graphs is None else list(default_graphs)
            return self.store.query(sparql, default_graph=graphs)
        except SyntaxError as exc:
            raise QuerySyntaxError(f"SPARQL syntax error: {exc}") from None
        except OSError as exc:
            raise StoreUnavailable(f"graph store error: {exc}") from exc
        except RuntimeError as exc:  # evaluation errors (e.g. an unsupported SERVICE)
            raise GraphStoreError(f"SPARQL query failed: {exc}") from None

    def update(self, sparql: str) -> None:
        try:
            self.store.update(sparql)
        except SyntaxError as exc:
            raise QuerySyntaxError(f"SPARQL syntax error: {exc}") from None
        except OSError as exc:
            raise StoreUnavailable(f"graph store error: {exc}") from exc
        except RuntimeError as exc:  # the update failed while running: nothing was written
            raise GraphStoreError(f"SPARQL update failed: {exc}") from None
        if self.writer and time.monotonic() - self._last_snapshot >= (self.snapshot_interval):
            self.publish_snapshot()

    def quads(self) -> Iterator[Quad]:
        return iter(self.store.quads_for_pattern(None, None, None, None))

    def publish_snapshot(self) -> Path:
        """Publish a consistent checkpoint for readers and prune superseded ones."""
        snapshots = self.folder / "snapshots"
        stamp = f"{time.time_ns():020d}"
        staging = snapshots / f".staging-{stamp}-{os.getpid()}"
        self.store.backup(str(staging))
        target = snapshots / stamp
        staging.rename(target)
        self._last_snapshot = time.monotonic()
        now = time.time()
        for old in snapshots.iterdir():
            if old != target and now - old.stat().st_mtime > SNAPSHOT_GRACE_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        return target

    def close(self) -> None:
        if self._store is None:
            return
        if self.writer:
            self.publish_snapshot()
            (self.folder / "writer.json").unlink(missing_ok=True)
        self._store = None  # dropping the last reference releases the RocksDB lock


def writer_refusal(folder: Path) -> str | None:
    """Why a crawl could not write to the store in ``folder`` now, or None when it can."""
    if not (folder / "db").is_dir():
        return None
    try:
        pyoxigraph.Store(str(folder / "db"))  # dropped at once, releasing the lock
    except OSError as exc:
        return _locked_message(folder) if _is_lock_error(exc) else None
    return None


def newest_snapshot(folder: Path) -> Path | None:
    """The most recent published checkpoint of a store folder."""
    snapshots = [p for p in (folder / "snapshots").glob("[0-9]*") if p.is_dir()]
    return max(snapshots, default=None)
