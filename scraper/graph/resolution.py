"""Entity resolution: decide which graph node each entity mentioned on a page is.

Order of evidence (strongest first):

1. identifiers from the page (JSON-LD ``@id``, microdata ``itemid``, RDFa ``resource``, and
   ``sameAs``); a new node with an ``@id`` takes that IRI as its own;
2. entity type plus normalised name (``scraper.graph.names.normalise_name``: case, punctuation,
   whitespace, diacritics and, for organisations, a leading "the" and legal suffixes such as
   Inc., Corp., Ltd, GmbH are ignored);
3. aliases reported by the extractor (a mention's alias equals a node's name or the
   mention's name equals a node's alias).

What a page may assert about an entity other pages define: a shared identifier (``@id``,
``sameAs``) joins a mention to a node only when their names agree (a name or alias in
common) or one of them is unnamed (a bare reference). A page naming another entity's
identifier for a thing of another name gets a node of its own: it can neither rename that
entity nor add its facts to it, whichever page was crawled first. (A renamed entity joins
its old node when the page gives the old name as an alias.)

Two mentions whose identifier sets are both non-empty and disjoint never merge on
name or alias: same-named organisations with different ``sameAs`` stay apart.
A name match that is ambiguous (several compatible nodes) merges with none of them.
Users can keep mentions written a certain way apart from a node (an unmerge); such a
rule is honoured here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from scraper.graph.names import normalise_name
from scraper.graph.vocab import entity_iri

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_identifier(iri: str) -> str | None:
    """Comparable form of an identifier IRI (scheme/host case, http vs https, default
    port and trailing slash ignored), or None when it is not an absolute http(s)/urn IRI."""
    iri = iri.strip()
    parts = urlsplit(iri)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            return None
        host = parts.hostname
        port = parts.port if parts.port not in (None, _DEFAULT_PORTS.get(scheme)) else None
        netloc = f"{host}:{port}" if port else host
        path = parts.path.rstrip("/")
        return urlunsplit(("https", netloc, path, parts.query, parts.fragment))
    if scheme and ":" in iri and " " not in iri:
        return iri
    return None


def name_key(entity_type: str, name: str) -> str | None:
    """Resolution key of a (type, name) pair, None when nothing comparable is left."""
    normalised = normalise_name(name, entity_type)
    return f"{entity_type}|{normalised}" if normalised else None


@dataclass(frozen=True)
class MentionKeys:
    """What resolution compares for one entity mentioned on a page."""

    entity_type: str
    name: str  # as written on the page (used for the minted IRI's slug)
    name_key: str | None
    ids: frozenset[str] = frozenset()
    alias_keys: frozenset[str] = frozenset()
    own_iri: str | None = None  # the page's IRI of the thing (@id): a new node takes it

    @classmethod
    def of(
        cls,
        entity_type: str,
        name: str,
        aliases: Iterable[str],
        identifiers: Iterable[str],
        own_iri: str = "",
        *,
        by_name: bool = True,
    ) -> MentionKeys:
        """The keys of a mention; with ``by_name`` False only its identifiers resolve it."""
        own = name_key(entity_type, name) if by_name else None
        alias_keys = {name_key(entity_type, a) for a in aliases if by_name} - {None, own}
        ids = {normalise_identifier(i) for i in [*identifiers, own_iri] if i} - {None}
        return cls(
            entity_type,
            name,
            own,
            frozenset(ids),  # type: ignore[arg-type]
            frozenset(alias_keys),  # type: ignore[arg-type]
            own_iri if own_iri and normalise_identifier(own_iri) else None,
        )

    def all_keys(self) -> set[str]:
        keys = set(self.ids) | set(self.alias_keys)
        if self.name_key:
            keys.add(self.name_key)
        return keys


@dataclass
class KnownNode:
    """Keys a stored node already carries (gathered from the stored pages)."""

    iri: str
    ids: set[str] = field(default_factory=set)
    name_keys: set[str] = field(default_factory=set)
    alias_keys: set[str] = field(default_factory=set)
    kept_apart: set[str] = field(default_factory=set)  # lowercased mention names unmerged

    def absorb(self, mention: MentionKeys) -> None:
        self.ids |= mention.ids
        if mention.name_key:
            self.name_keys.add(mention.name_key)
        self.alias_keys |= mention.alias_keys


@dataclass(frozen=True)
class Resolution:
    """Which node a mention became and why (``identifier``, ``name``, ``alias`` or ``new``)."""

    iri: str
    matched_by: str
    matched_key: str | None = None


def _names_agree(mention: MentionKeys, node: KnownNode) -> bool:
    """A name or alias in common, or nothing to disagree on (a bare reference)."""
    mention_names = {mention.name_key, *mention.alias_keys} - {None}
    node_names = node.name_keys | node.alias_keys
    return not mention_names or not node_names or not mention_names.isdisjoint(node_names)


def _compatible(mention: MentionKeys, node: KnownNode) -> bool:
    if mention.name.lower() in node.kept_apart:
        return False
    return not (mention.ids and node.ids and mention.ids.isdisjoint(node.ids))


def _natural_iri(mention: MentionKeys) -> str:
    """The IRI minted from a mention's strongest key (its smallest identifier, else its name)."""
    key = min(mention.ids) if mention.ids else (mention.name_key or f"raw|{mention.name}")
    return entity_iri(key, mention.entity_type).value


def _single(candidates: Iterable[KnownNode], mention: MentionKeys) -> KnownNode | None:
    """The one compatible candidate; among several, the node minted from the mention's own
    key (the name's natural holder), otherwise none: an ambiguous name merges nothing."""
    compatible = {node.iri: node for node in candidates if _compatible(mention, node)}
    if len(compatible) == 1:
        return next(iter(compatible.values()))
    return compatible.get(_natural_iri(mention))


def _mint(mention: MentionKeys, nodes: Mapping[str, KnownNode], apart: frozenset[str]) -> str:
    """A new node's IRI: the page's own IRI of the thing when it has one (so the page's
    references to it, and other pages', are links to this node), else one minted."""
    if mention.own_iri and mention.own_iri not in nodes:
        return mention.own_iri
    iri = _natural_iri(mention)
    existing = nodes.get(iri)
    if existing is not None and (
        iri in apart or not _compatible(mention, existing) or not _names_agree(mention, existing)
    ):
        # The natural IRI was unmerged from this name (or holds other identifiers): every
        # mention split off the same way lands on one shared new node.
        iri = entity_iri(f"{iri}|apart|{mention.name.lower()}", mention.entity_type).value
    return iri


class Resolver:
    """Resolve the mentions of one page against the stored nodes, one mention at a time.

    Nodes are found through dicts from each key to the nodes carrying it, so a mention costs
    the same however many nodes the page's mentions brought in.
    """

    def __init__(self, known: Iterable[KnownNode]):
        self.nodes: dict[str, KnownNode] = {}
        self._by_id: dict[str, set[str]] = {}
        self._by_name: dict[str, set[str]] = {}
        self._by_alias: dict[str, set[str]] = {}
        for node in known:
            self.nodes[node.iri] = node
            self._index(node.iri, node.ids, node.name_keys, node.alias_keys)

    def _index(
        self, iri: str, ids: Iterable[str], names: Iterable[str], aliases: Iterable[str]
    ) -> None:
        for index, keys in ((self._by_id, ids), (self._by_name, names), (self._by_alias, aliases)):
            for key in keys:
                index.setdefault(key, set()).add(iri)

    def _carrying(
        self, index: dict[str, set[str]], keys: Iterable[str], exclude: frozenset[str] = frozenset()
    ) -> list[KnownNode]:
        """The nodes carrying one of ``keys`` in ``index``, but those of ``exclude``."""
        iris = set().union(*(index.get(key, ()) for key in keys)) - exclude
        return [self.nodes[iri] for iri in sorted(iris)]

    def resolve(self, mention: MentionKeys, apart_from: Iterable[str] = ()) -> Resolution:
        """The node of ``mention``; the mention's keys join that node for later mentions.

        ``apart_from``: nodes the mention is known not to be (other nodes of its own page's
        markup), which its name and aliases do not match.
        """
        resolution = self._match(mention, frozenset(apart_from))
        node = self.nodes.get(resolution.iri)
        if node is None:
            node = self.nodes[resolution.iri] = KnownNode(resolution.iri)
        node.absorb(mention)
        names = [mention.name_key] if mention.name_key else []
        self._index(node.iri, mention.ids, names, mention.alias_keys)
        return resolution

    def _match(self, mention: MentionKeys, apart: frozenset[str]) -> Resolution:
        if mention.ids:
            by_id = [
                node
                for node in self._carrying(self._by_id, mention.ids)
                if mention.name.lower() not in node.kept_apart and _names_agree(mention, node)
            ]
            if by_id:
                best = min(by_id, key=lambda n: (-len(mention.ids & n.ids), n.iri))
                return Resolution(best.iri, "identifier", min(mention.ids & best.ids))
        key = mention.name_key
        if key:
            node = _single(self._carrying(self._by_name, [key], apart), mention)
            if node:
                return Resolution(node.iri, "name", key)
        by_alias = self._carrying(self._by_alias, [key] if key else [], apart)
        by_alias += self._carrying(self._by_name, mention.alias_keys, apart)
        node = _single(by_alias, mention)
        if node:
            shared = (mention.alias_keys & node.name_keys) or {key}
            return Resolution(node.iri, "alias", min(k for k in shared if k))
        return Resolution(_mint(mention, self.nodes, apart), "new")
