"""A shortened soak: mixed streamed requests, a third cut off, nothing left behind."""

from __future__ import annotations

import pytest

from tests.servers import serve
from tests.soak import soak

pytestmark = pytest.mark.server


@pytest.mark.parametrize("kind", ["gthread", "uvicorn"])
def test_soak_leaves_nothing_behind(kind: str) -> None:
    with serve(kind) as server:
        result = soak(server, requests=300, concurrency=50, time_limit=120)
    assert result.requests == 300
    assert result.disconnected > 50, "about a third are cut off"
    assert result.errors == []
    assert result.corrupt == []
    assert result.missing_finally == []
    assert result.leaks() == [], f"before: {result.before}; after: {result.after}"
