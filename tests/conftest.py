"""Fixtures shared by several test modules."""

import pytest

from scraper.graph import EmbeddedStore, SparqlEndpointStore
from tests.oxigraph_server import oxigraph_server


@pytest.fixture(params=["embedded", "endpoint"])
def graph_store(request, tmp_path):
    """GRAPH_STORE for both backends: a folder, and a real ``oxigraph serve`` on loopback."""
    if request.param == "embedded":
        yield str(tmp_path / "graph")
    else:
        with oxigraph_server() as server:
            yield server.url


@pytest.fixture(scope="module")
def oxigraph():
    """One real ``oxigraph serve`` on loopback per test module."""
    with oxigraph_server() as server:
        yield server


@pytest.fixture(params=["embedded", "endpoint"])
def store(request, tmp_path):
    """An open store on both backends: an embedded writer, and the module's emptied endpoint."""
    if request.param == "embedded":
        opened = EmbeddedStore.open_writer(tmp_path / "graph")
    else:
        opened = SparqlEndpointStore(request.getfixturevalue("oxigraph").url)
        opened.update("DROP ALL")
    yield opened
    opened.close()
