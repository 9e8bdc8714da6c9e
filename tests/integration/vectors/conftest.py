"""The ``index`` fixture runs every vector-index test against the edge adapter (in ``tmp_path``),
qdrant-client's local mode (``:memory:``) and, where a Docker engine answers, a real Qdrant server in
a container."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from qdrant_client import AsyncQdrantClient

from services.stores.ports import VectorIndex
from services.stores.vectors_edge import EdgeVectorIndex
from services.stores.vectors_server import ServerVectorIndex
from tests.support import docker_unavailable


@pytest.fixture(scope="session")
def qdrant_url() -> Iterator[str]:
    """A real Qdrant server in a container, shared by the docker-marked runs."""
    reason = docker_unavailable()
    if reason is not None:
        pytest.skip(reason)
    from testcontainers.community.qdrant import QdrantContainer

    with QdrantContainer() as container:
        yield f"http://{container.get_container_host_ip()}:{container.exposed_rest_port}"


@pytest.fixture(
    params=["edge", "server-local", pytest.param("server-docker", marks=pytest.mark.docker)],
)
async def index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorIndex]:
    """A fresh, empty index of the requested kind; closed (and, on the shared server, emptied) after."""
    kind: str = request.param
    if kind == "edge":
        idx: VectorIndex = EdgeVectorIndex(tmp_path / "vectors")
    elif kind == "server-local":
        idx = ServerVectorIndex(location=":memory:")
    else:
        url = request.getfixturevalue("qdrant_url")
        idx = ServerVectorIndex(url=url)
    yield idx
    await idx.close()
    if kind == "server-docker":
        admin = AsyncQdrantClient(url=url)
        for c in (await admin.get_collections()).collections:
            await admin.delete_collection(c.name)
        await admin.close()
