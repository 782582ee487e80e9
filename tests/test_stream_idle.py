"""The relay's idle hook and its "nothing yet" items, in the pure core, for
both drivers: ``on_idle()`` runs after each ``idle`` seconds with nothing
pending (also while a sync source blocks in one call), its bytes are sent,
``None`` from it ends the stream and closes the source; with ``waits`` a
``None`` item is never rendered, and lets the producer stop between waits."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from django_streamkit._core.gate import Plan
from django_streamkit._core.stream import arelay, relay


def plan(on_idle: Callable[[], bytes | None], *, waits: bool = False) -> Plan[bytes]:
    return Plan(
        lambda items: b"".join(items),
        lambda: 100,
        0.0,
        waits=waits,
        idle=0.05,
        on_idle=on_idle,
    )


def run_sync(source: Iterator[bytes | None], the_plan: Plan[bytes]) -> list[bytes]:
    return list(
        relay(
            source,  # type: ignore[arg-type]
            the_plan,
            run=lambda body: body(),
            close=getattr(source, "close", bool),
        )
    )


async def run_async(
    source: AsyncIterator[bytes | None], the_plan: Plan[bytes]
) -> list[bytes]:
    loop = asyncio.get_running_loop()
    return [
        chunk
        async for chunk in arelay(
            source,  # type: ignore[arg-type]
            the_plan,
            spawn=loop.create_task,
            aclose=source.aclose,  # type: ignore[attr-defined]
        )
    ]


def test_beats_while_a_sync_source_blocks_in_one_call() -> None:
    def source() -> Iterator[bytes]:
        yield b"a"
        time.sleep(0.3)
        yield b"b"

    chunks = run_sync(source(), plan(lambda: b"."))
    assert chunks[0] == b"a"
    assert chunks[-1] == b"b"
    assert set(chunks[1:-1]) == {b"."}
    assert 2 <= len(chunks) - 2 <= 7


def test_beats_while_an_async_source_awaits() -> None:
    async def source() -> AsyncIterator[bytes]:
        yield b"a"
        await asyncio.sleep(0.3)
        yield b"b"

    chunks = asyncio.run(run_async(source(), plan(lambda: b".")))
    assert chunks[0] == b"a"
    assert chunks[-1] == b"b"
    assert 2 <= chunks.count(b".") <= 7


def test_an_empty_beat_sends_nothing() -> None:
    def source() -> Iterator[bytes]:
        time.sleep(0.2)
        yield b"a"

    assert run_sync(source(), plan(lambda: b"")) == [b"a"]


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_none_from_on_idle_ends_the_stream_and_closes_the_source(driver: str) -> None:
    closed = threading.Event()
    ticks = []

    def on_idle() -> bytes | None:
        ticks.append(1)
        return None if len(ticks) >= 3 else b""

    def sync_source() -> Iterator[bytes | None]:
        try:
            yield b"a"
            while True:  # polls, nothing new
                time.sleep(0.01)
                yield None
        finally:
            closed.set()

    async def async_source() -> AsyncIterator[bytes | None]:
        try:
            yield b"a"
            await asyncio.sleep(60)
        finally:
            closed.set()

    the_plan = plan(on_idle, waits=True)
    started = time.monotonic()
    if driver == "sync":
        chunks = run_sync(sync_source(), the_plan)
    else:
        chunks = asyncio.run(run_async(async_source(), the_plan))
    assert chunks == [b"a"]
    assert closed.is_set()
    assert len(ticks) == 3
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("waits", [True, False])
def test_none_items_are_skipped_only_where_the_plan_waits(waits: bool) -> None:
    rendered: list[list[bytes | None]] = []

    def render(items: list[bytes | None]) -> bytes:
        rendered.append(items)
        return b"".join(item or b"-" for item in items)

    the_plan: Plan[bytes | None] = Plan(render, lambda: 100, 0.0, waits=waits)
    source = iter([b"a", None, None, b"b"])
    body = b"".join(relay(source, the_plan, run=lambda body: body(), close=bool))
    assert body == (b"ab" if waits else b"a--b")
    assert any(None in batch for batch in rendered) is not waits
