"""Fixtures shared by several test modules."""

import pytest

from tests.oxigraph_server import oxigraph_server


@pytest.fixture(params=["embedded", "endpoint"])
def graph_store(request, tmp_path):
    """GRAPH_STORE for both backends: a folder, and a real ``oxigraph serve`` on loopback."""
    if request.param == "embedded":
        yield str(tmp_path / "graph")
    else:
        with oxigraph_server() as server:
            yield server.url
