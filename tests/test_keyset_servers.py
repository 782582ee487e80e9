"""A million-row CSV export through a real PgBouncer in transaction pooling
mode: read in keyset pages, every row of the seeded table byte for byte (as
``tests.support.seed.record_line`` writes it, the rows a server-side cursor
reads), with flat memory (``.iterator()`` alone would fetch every row first).

The paged export is the Python writer's (``/copy/records-python.csv``): the
plain export of these columns is written by PostgreSQL's COPY, one statement
that needs no pages, so it would not read a single page."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.support.pgbouncer import Bouncer, pgbouncer  # noqa: F401 (a fixture)
from tests.support.pgserver import ROWS, app_name, seed
from tests.support.seed import record_line
from tests.support.servers import Server, serve

pytestmark = [pytest.mark.server, pytest.mark.postgres]
MIB = 1 << 20
HEADER = b"ID,Customer name,Email,City,Status,Quantity,Amount,Created\r\n"


def _export(server: Server, path: str) -> tuple[int, list[int], int, int]:
    """(an order-free digest of the rows, their ids in the order sent, the
    body's size, the serving process's peak RSS growth)."""
    url = f"{server.url}{path}"
    httpx.get(f"{url}?n=3", timeout=60)  # warm up
    before = server.reset_peak_rss()
    digest = size = 0
    ids: list[int] = []
    rest = b""
    with httpx.stream("GET", url, timeout=180) as response:
        assert response.status_code == 200
        for chunk in response.iter_raw():
            size += len(chunk)
            *lines, rest = (rest + chunk).split(b"\r\n")
            for line in lines:
                digest += _line_digest(line)
                if line[:1].isdigit():
                    ids.append(int(line.split(b",", 1)[0]))
    assert rest == b""
    return digest, ids, size, server.peak_rss() - before


def _line_digest(line: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(line).digest()[:16])


def _reference() -> tuple[int, int]:
    """(the digest, the size) of the export of every seeded row, header first."""
    digest, size = _line_digest(HEADER[:-2]), len(HEADER)
    for i in range(1, ROWS + 1):
        line = record_line(i)
        digest += _line_digest(line[:-2])
        size += len(line)
    return digest, size


def test_a_million_rows_through_pgbouncer_stream_the_same_bytes_flat(
    pgbouncer: Bouncer,  # noqa: F811
) -> None:
    seed()
    env = {
        "STREAMKIT_TEST_PGAPP": app_name("streamkit-keyset"),
        "STREAMKIT_TEST_PGBOUNCER_PORT": str(pgbouncer.port),
    }
    with serve(
        "gunicorn",
        settings="tests.support.server_settings_pgbouncer",
        extra_env=env,
    ) as bounced:
        digest, ids, size, growth = _export(bounced, "/copy/records-python.csv")
    expected, expected_size = _reference()
    # Every row of the table, each once, byte for byte; Record has no
    # ordering, so the pages come in primary key order.
    assert (digest, size) == (expected, expected_size)
    assert ids == list(range(1, ROWS + 1))
    assert growth < 30 * MIB, f"peak RSS grew {growth / MIB:.0f} MiB"
    assert "keyset pages" not in bounced.log_text()  # paged, not read whole
