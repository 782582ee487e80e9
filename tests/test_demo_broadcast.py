"""The demo's broadcast page: orders saved in the admin and placed by
``manage.py publish_orders`` in another process reach an open event stream,
through the demo's SQLite database (the database backend, polling)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from httpx_sse import connect_sse

from tests.support.servers import ROOT, Server, serve
from tests.test_demo import PROJECT, manage, signed_in

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, dict[str, str]]]:
    env = {
        "DEMO_DB": str(tmp_path_factory.mktemp("demo") / "db.sqlite3"),
        "DEMO_DEBUG": "0",
        # This checkout's package, not the one the venv was installed from.
        "PYTHONPATH": os.pathsep.join([str(PROJECT), str(ROOT)]),
    }
    manage("migrate", "--verbosity", "0", env=env)
    manage("seed", "--orders", "20", "--books", "5", "--authors", "2", env=env)
    manage("demo_user", env=env)
    with serve(
        "gthread",
        project="testproject",
        settings="testproject.settings",
        pythonpath=PROJECT,
        extra_env=env,
    ) as server:
        yield server, env


def test_the_page_links_its_stream(demo: tuple[Server, dict[str, str]]) -> None:
    server, _ = demo
    page = httpx.get(server.url + "/live/broadcast/", timeout=30)
    assert page.status_code == 200
    assert 'new EventSource("/live/broadcast/events")' in page.text
    assert "/live/broadcast/" in httpx.get(server.url + "/", timeout=30).text


def test_orders_from_a_command_and_the_admin_reach_the_stream(
    demo: tuple[Server, dict[str, str]],
) -> None:
    server, env = demo
    got: list[dict[str, object]] = []
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=15)) as http,
        connect_sse(
            http,
            "GET",
            server.url + "/live/broadcast/events",
            headers={"Last-Event-ID": "0"},
        ) as source,
    ):
        events = (e for e in source.iter_sse() if e.data)  # not the retry
        out = manage("publish_orders", "--count", "2", "--every", "0", env=env)
        assert out.count("Placed and published order") == 2
        got += [next(events).json() for _ in range(2)]
        admin = signed_in(server)
        try:
            form = admin.get("/admin/demo/order/1/change/").text
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
            book = re.search(r'name="book" value="(\d+)"', form)
            assert token
            assert book
            saved = admin.post(
                "/admin/demo/order/1/change/",
                data={
                    "csrfmiddlewaretoken": token.group(1),
                    "book": book.group(1),
                    "customer": "Barbara Liskov",
                    "email": "barbara@example.com",
                    "quantity": "2",
                    "total": "20.00",
                    "status": "paid",
                    "created_0": "2024-06-01",
                    "created_1": "12:00:00",
                    "note": "",
                    "_save": "Save",
                },
            )
            assert saved.status_code == 302, saved.text[:2000]
        finally:
            admin.close()
        started = time.monotonic()
        got.append(next(events).json())
        assert time.monotonic() - started < 10
    assert [(e["created"], e["status"]) for e in got] == [
        (True, "new"),
        (True, "new"),
        (False, "paid"),
    ]
    assert got[2]["customer"] == "Barbara Liskov"
    assert got[2]["id"] == 1
