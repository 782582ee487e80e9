"""Each sync/async pair of drivers, run on the same cases: the bytes, the
order of events, the errors and the clean-up must be the same through both.

Pairs: the relay (``relay``/``arelay``), the CSV writer (sync and async rows),
the template renderer (``generate``/``generate_async``), the scope wrappers
(``ContextIterator``/``AsyncContextIterator``), the response (WSGI and ASGI
iteration), gzip (``compress_chunks``/``acompress_chunks``) and the clean-up
helpers (``call_all``/``acall_all``).
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import pytest

from django_streamkit import StreamingResponse, stream_csv, stream_template_string
from django_streamkit._core.bridge import acall_all, call_all
from django_streamkit._core.gate import Plan
from django_streamkit._core.scope import AsyncContextIterator, ContextIterator, Scope
from django_streamkit._core.stream import arelay, relay
from django_streamkit._gzip import acompress_chunks, compress_chunks

CASES: dict[str, list[Any]] = {
    "empty": [],
    "one": [b"x"],
    "many": [f"{i:05d}\n".encode() for i in range(3000)],
    "big pieces": [b"y" * 40_000, b"z" * 40_000, b"w"],
}
FAILS_AT = 7


class Boom(Exception):
    pass


def sync_source(items: list[Any], log: list[str], fail: bool) -> Iterator[Any]:
    try:
        for i, item in enumerate(items):
            if fail and i == FAILS_AT:
                raise Boom(i)
            yield item
    finally:
        log.append("closed")


async def async_source(
    items: list[Any], log: list[str], fail: bool
) -> AsyncIterator[Any]:
    try:
        for i, item in enumerate(items):
            if fail and i == FAILS_AT:
                raise Boom(i)
            yield item
            await asyncio.sleep(0)
    finally:
        log.append("closed")


def outcome(run: Callable[[], object], chunks: list[bytes]) -> tuple[bytes, str]:
    """The bytes ``run()`` put into ``chunks``, and how it ended."""
    try:
        run()
    except Boom as exc:
        return b"".join(chunks), f"Boom({exc})"
    return b"".join(chunks), "ok"


def collect(iterator: Iterator[bytes], into: list[bytes]) -> list[bytes]:
    into.extend(iterator)
    return into


def acollect(iterator: AsyncIterator[bytes], into: list[bytes]) -> list[bytes]:
    async def go() -> list[bytes]:
        async for chunk in iterator:
            into.append(chunk)
        return into

    return asyncio.run(go())


@pytest.mark.parametrize("fail", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_relay(case: str, fail: bool) -> None:
    items = CASES[case] * (3 if fail else 1)
    plan: Plan[bytes] = Plan(
        b"".join, lambda: 65536, 0.1, len, head=b"<", tail=lambda: b">"
    )
    sync_log: list[str] = []
    sync_got: list[bytes] = []
    source = sync_source(items, sync_log, fail)
    chunks = relay(source, plan, run=call, close=source.close)
    sync = outcome(lambda: collect(chunks, sync_got), sync_got)
    async_log: list[str] = []
    async_got: list[bytes] = []
    asource = async_source(items, async_log, fail)
    achunks = arelay(asource, plan, spawn=asyncio.ensure_future, aclose=asource.aclose)
    asynced = outcome(lambda: acollect(achunks, async_got), async_got)
    assert sync == asynced
    assert sync[1] == (f"Boom({FAILS_AT})" if fail and len(items) > FAILS_AT else "ok")
    # Everything made before an error is sent before it is raised.
    made = items[:FAILS_AT] if sync[1] != "ok" else items
    assert sync[0] == b"<" + b"".join(made) + (b">" if sync[1] == "ok" else b"")
    assert sync_log == async_log == ["closed"]
    # Chunks stay within the limit (plus the head).
    assert max(map(len, sync_got), default=0) <= 65536 + 1
    assert max(map(len, async_got), default=0) <= 65536 + 1


def call(body: Callable[[], None]) -> None:
    body()


ROWS = [[i, f"name {i}", "=1+1" if i % 9 == 0 else "ok", i * 0.5] for i in range(2500)]


@pytest.mark.parametrize(
    "options", [{}, {"header": ["n", "name", "f", "x"]}, {"bom": True}]
)
def test_csv_writer(options: dict[str, Any]) -> None:
    sync = b"".join(stream_csv(iter(ROWS), **options))  # type: ignore[arg-type]

    async def rows() -> AsyncIterator[list[Any]]:
        for row in ROWS:
            yield row

    async def read() -> bytes:
        return b"".join([c async for c in stream_csv(rows(), **options)])  # type: ignore[union-attr]

    assert asyncio.run(read()) == sync


SOURCE = (
    "{% for i in rows %}<li>{{ i }}{% if i is even %}!{% endif %}</li>\n{% endfor %}"
)


def test_template_renderer() -> None:
    sync = "".join(stream_template_string(None, SOURCE, {"rows": range(500)}))  # type: ignore[arg-type]
    # The async engine, from a sync caller: generate_async on a private loop.
    native = "".join(
        stream_template_string(None, SOURCE, {"rows": range(500)}, using="jinja2_async")  # type: ignore[arg-type]
    )
    assert native == sync
    assert sync.count("<li>") == 500


@pytest.mark.parametrize("fail", [False, True])
def test_scope_wrappers(fail: bool) -> None:
    items = [f"{i}" for i in range(20)]
    marker: Any = __import__("contextvars").ContextVar("marker", default="caller")
    marker.set("scope")
    scope_sync, scope_async = Scope(), Scope()
    marker.set("caller")

    def seen(log: list[str]) -> Iterator[str]:
        for item in sync_source(items, log, fail):
            yield f"{item}:{marker.get()}"

    async def aseen(log: list[str]) -> AsyncIterator[str]:
        async for item in async_source(items, log, fail):
            yield f"{item}:{marker.get()}"

    sync_log: list[str] = []
    sync_out: list[str] = []
    try:
        for item in ContextIterator(scope_sync, seen(sync_log)):
            assert marker.get() == "caller"
            sync_out.append(item)
    except Boom:
        sync_out.append("Boom")

    async_log: list[str] = []

    async def go() -> list[str]:
        out: list[str] = []
        try:
            async for item in AsyncContextIterator(scope_async, aseen(async_log)):
                assert marker.get() == "caller"
                out.append(item)
        except Boom:
            out.append("Boom")
        return out

    assert asyncio.run(go()) == sync_out
    assert sync_out[0] == "0:scope"
    assert sync_log == async_log == ["closed"]


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("case", CASES)
def test_response_under_wsgi_and_asgi(case: str, kind: str) -> None:
    items = CASES[case]

    def make() -> StreamingResponse:
        log: list[str] = []
        if kind == "sync":
            return StreamingResponse(sync_source(items, log, False))
        return StreamingResponse(async_source(items, log, False))

    wsgi = b"".join(make())

    async def asgi() -> bytes:
        response = make()
        return b"".join([chunk async for chunk in response])

    assert asyncio.run(asgi()) == wsgi == b"".join(items)


@pytest.mark.parametrize("case", CASES)
def test_gzip(case: str) -> None:
    items = CASES[case]
    sync = b"".join(compress_chunks(items))

    async def chunks() -> AsyncIterator[bytes]:
        for item in items:
            yield item

    async def read() -> bytes:
        return b"".join([c async for c in acompress_chunks(chunks())])

    assert asyncio.run(read()) == sync
    assert gzip.decompress(sync) == b"".join(items)


def test_clean_up_helpers() -> None:
    def calls(log: list[str]) -> Iterable[Callable[[], object]]:
        def ok(name: str) -> Callable[[], None]:
            return lambda: log.append(name)

        def bad(name: str) -> Callable[[], None]:
            def call() -> None:
                log.append(name)
                raise Boom(name)

            return call

        return [ok("a"), bad("b"), ok("c"), bad("d")]

    sync_log: list[str] = []
    with pytest.raises(Boom) as sync_error:
        call_all(calls(sync_log))
    async_log: list[str] = []
    with pytest.raises(Boom) as async_error:
        asyncio.run(acall_all(calls(async_log)))
    assert sync_log == async_log == ["a", "b", "c", "d"]
    assert str(sync_error.value) == str(async_error.value) == "b"


def test_gzip_cut_off_early_leaves_nothing_to_flush() -> None:
    # A client that leaves closes the compressor mid-stream; nothing may be
    # left for the garbage collector to write into a closed buffer (warnings
    # are errors here, so an "Exception ignored" would fail the test).
    import gc

    chunks = compress_chunks(iter([b"a" * 1000, b"b" * 1000]))
    next(chunks)
    next(chunks)
    chunks.close()

    async def cut() -> None:
        async def source() -> AsyncIterator[bytes]:
            yield b"a" * 1000
            yield b"b" * 1000

        achunks = acompress_chunks(source())
        await achunks.__anext__()
        await achunks.__anext__()
        await achunks.aclose()

    asyncio.run(cut())
    del chunks
    gc.collect()
