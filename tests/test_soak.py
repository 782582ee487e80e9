"""A shortened soak: every kind of stream, a third cut off, nothing left behind.

The server's default database is PostgreSQL (``tests.support.soak_settings``); when
PostgreSQL is unreachable, seeding it fails the test (nothing skips).
``bench/soak.py`` runs the full 10,000 requests per server.
"""

from __future__ import annotations

from functools import partial

import httpx
import pytest

from tests.support.pgserver import app_name, seed, sessions
from tests.support.seed import record_line
from tests.support.servers import serve
from tests.support.soak import KINDS, soak
from tests.support.views import ROW

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.matrix]

REQUESTS = 30 * len(KINDS)
# Peak RSS of the serving process over the run, above its warmed-up RSS: 50
# streams at once hold a few 4 KiB chunks each (and, under uvicorn, a worker
# thread each); bodies held in memory would add megabytes per stream.
PEAK_RSS_GROWTH = 40 * 2**20


@pytest.fixture(scope="module")
def seeded() -> None:
    seed()


@pytest.mark.parametrize("kind", ["gthread", "uvicorn"])
def test_soak_leaves_nothing_behind(kind: str, seeded: None) -> None:
    app = app_name("streamkit-soak")
    with serve(
        kind,
        settings="tests.support.soak_settings",
        extra_env={"STREAMKIT_TEST_PGAPP": app},
    ) as server:
        result = soak(
            server,
            requests=REQUESTS,
            concurrency=50,
            sessions=partial(sessions, app),
            time_limit=120,
        )
        core = httpx.get(server.url + KINDS["core-sync"], timeout=30).text
        export = httpx.get(server.url + KINDS["export"], timeout=30).content
    assert result.requests == REQUESTS
    assert result.disconnected == REQUESTS // 3
    assert result.completed == REQUESTS - REQUESTS // 3
    assert result.problems() == [], f"before: {result.before}; after: {result.after}"
    # The disconnect path ran for every kind: some cuts landed mid-source
    # (the others after the source's last row had already been sent).
    assert set(result.cut_mid_source) == set(KINDS), result.cut_mid_source
    assert result.peak_rss_growth < PEAK_RSS_GROWTH, (
        f"peak RSS grew {result.peak_rss_growth / 2**20:.1f} MiB"
    )
    # The references are the bodies the sources make, not just consistent.
    assert core == "".join(ROW.format(i) for i in range(2000))
    # The QuerySet kinds read real rows: the export is the seeded table's.
    # A registered export, so it starts with a UTF-8 byte order mark.
    header = (
        b"\xef\xbb\xbfID,Customer name,Email,City,Status,Quantity,Amount,Created\r\n"
    )
    assert export == header + b"".join(record_line(i) for i in range(1, 1001))
