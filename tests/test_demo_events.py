"""The demo's live pages under Django's development server, as ``make demo``
runs it: a placed order reaches an open new-orders stream, and the chat's
answer arrives token by token, both through a real SSE client."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from httpx_sse import connect_sse

from tests.support.servers import ROOT, Server, serve
from tests.test_demo import PROJECT, manage

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "DEMO_DB": str(tmp_path_factory.mktemp("demo-live") / "db.sqlite3"),
        "DEMO_DEBUG": "0",
        # This checkout's package, whichever one the venv has installed.
        "PYTHONPATH": str(ROOT),
    }
    manage("migrate", "--verbosity", "0", env=env)
    manage("seed", "--orders", "20", "--books", "20", "--authors", "5", env=env)
    with serve(
        "runserver",
        project="testproject",
        settings="testproject.settings",
        pythonpath=PROJECT,
        extra_env=env,
    ) as server:
        yield server


def test_the_index_links_both_live_pages(demo: Server) -> None:
    index = httpx.get(demo.url + "/", timeout=30).text
    for page in ("/live/orders/", "/live/chat/"):
        assert f'href="{page}"' in index
        assert httpx.get(demo.url + page, timeout=30).status_code == 200


def test_a_placed_order_reaches_an_open_stream(demo: Server) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []
    opened = threading.Event()

    def listen() -> None:
        with (
            httpx.Client(timeout=15) as client,
            connect_sse(client, "GET", demo.url + "/live/orders/events") as source,
        ):
            opened.set()
            for event in source.iter_sse():
                if event.event == "order":
                    received.append((event.id, event.json()))
                    return

    listener = threading.Thread(target=listen)
    listener.start()
    assert opened.wait(10)
    time.sleep(0.3)  # the stream has read the newest id before the order
    with httpx.Client(base_url=demo.url, timeout=15) as client:
        client.get("/live/orders/")
        token = client.cookies["csrftoken"]
        placed = client.post("/live/orders/new", headers={"X-CSRFToken": token})
        assert placed.status_code == 200
    listener.join(timeout=10)
    assert not listener.is_alive()
    ((event_id, order),) = received
    assert order["id"] == placed.json()["id"]
    assert event_id == str(placed.json()["id"])
    assert order["customer"]


def test_the_chat_answer_streams_token_by_token(demo: Server) -> None:
    url = demo.url + "/live/chat/answer?q=streaming"
    tokens: list[tuple[float, str]] = []
    with httpx.Client(timeout=15) as client, connect_sse(client, "GET", url) as source:
        for event in source.iter_sse():
            if event.event == "done":
                break
            if event.event == "token":
                tokens.append((time.monotonic(), event.data))
    text = "".join(token for _, token in tokens)
    assert text.startswith("You asked: “streaming”. Each word")
    assert len(tokens) > 20
    # Spread over the answer's making (20-80 ms a token), not sent at once.
    assert tokens[-1][0] - tokens[0][0] > 0.4
