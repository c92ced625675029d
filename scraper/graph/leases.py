"""The writer lease of a shared store: one crawl writes a SPARQL endpoint store at a time.

The holder is a crawl: one process, or every worker of a fleet (they hold it under the
crawl's name, and its last worker gives it up).

A shared store has no file lock, so the writer takes a lease in the store itself, renews it
while it crawls, and gives it up at the end; a crawl that died frees the store when its lease
ends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyoxigraph import Literal

from scraper.graph.mapping import datetime_literal
from scraper.graph.store import GraphStore, StoreLocked
from scraper.graph.vocab import LEASE_GRAPH, ss


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _lease_message(holders: list[tuple[str, str]]) -> str:
    holder, expires = holders[0] if holders else ("unknown", "?")
    return (
        f"another crawl ({holder}) is writing to this store; its lease ends at {expires} "
        "unless it renews it (a crawl that died frees the store then). Wait for it to finish."
    )


def _expiry(seconds: float) -> Literal:
    expires = datetime.now(UTC) + timedelta(seconds=seconds)
    return datetime_literal(expires.isoformat(timespec="seconds"))


def acquire_lease(store: GraphStore, holder: str, seconds: float) -> None:
    """Become the store's only crawl writer for ``seconds`` (renew before they pass).

    A shared store has no file lock, so writers take a lease in the store itself: an
    expired lease is free, and of writers racing for a free one the smallest holder
    name wins. Raises ``StoreLocked`` naming the current holder.
    """
    lease, holder_term = ss("writerLease"), Literal(holder)
    holder_p, expires_p = ss("holder"), ss("expires")
    now = datetime_literal(_now())
    store.update(
        f"DELETE {{ GRAPH {LEASE_GRAPH} {{ {lease} ?p ?o }} }} WHERE {{ GRAPH {LEASE_GRAPH} "
        f"{{ {lease} {expires_p} ?e ; ?p ?o }} FILTER(?e < {now}) }};\n"
        f"INSERT {{ GRAPH {LEASE_GRAPH} {{ {lease} {holder_p} {holder_term} ; "
        f"{expires_p} {_expiry(seconds)} }} }} WHERE {{ FILTER NOT EXISTS {{ GRAPH "
        f"{LEASE_GRAPH} {{ {lease} {holder_p} ?h }} }} }}"
    )
    holders = _lease_holders(store)
    if holders and holders[0][0] == holder:
        return
    if holder in {h for h, _ in holders}:  # lost a race: step back
        release_lease(store, holder)
    raise StoreLocked(_lease_message(holders))


def lease_refusal(store: GraphStore, holder: str | None = None) -> str | None:
    """Why a crawl could not take the writer lease now, or None when it is free (or held
    by ``holder``: the crawl a new worker of a fleet joins)."""
    now = datetime.now(UTC)
    holders = [
        (h, e) for h, e in _lease_holders(store) if datetime.fromisoformat(e) >= now and h != holder
    ]
    return _lease_message(holders) if holders else None


def _lease_holders(store: GraphStore) -> list[tuple[str, str]]:
    """(holder, expiry) of the writer lease, smallest holder first."""
    rows = store.select(
        f"SELECT ?h ?e WHERE {{ GRAPH {LEASE_GRAPH} "
        f"{{ ss:writerLease ss:holder ?h ; ss:expires ?e }} }}"
    )
    return sorted((row["h"].value, row["e"].value) for row in rows)


def renew_lease(store: GraphStore, holder: str, seconds: float) -> None:
    """Push the end of the lease ``holder`` holds ``seconds`` into the future."""
    lease = ss("writerLease")
    holder_p, expires_p = ss("holder"), ss("expires")
    store.update(
        f"DELETE {{ GRAPH {LEASE_GRAPH} {{ {lease} {expires_p} ?e }} }} "
        f"INSERT {{ GRAPH {LEASE_GRAPH} {{ {lease} {expires_p} {_expiry(seconds)} }} }} "
        f"WHERE {{ GRAPH {LEASE_GRAPH} {{ {lease} {holder_p} {Literal(holder)} ; "
        f"{expires_p} ?e }} }}"
    )


def release_lease(store: GraphStore, holder: str) -> None:
    """Give the lease up (a no-op unless ``holder`` holds it)."""
    lease = ss("writerLease")
    holder_p = ss("holder")
    store.update(
        f"DELETE {{ GRAPH {LEASE_GRAPH} {{ {lease} ?p ?o }} }} WHERE {{ GRAPH {LEASE_GRAPH} "
        f"{{ {lease} {holder_p} {Literal(holder)} ; ?p ?o }} }}"
    )
