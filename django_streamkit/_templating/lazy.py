"""Context values that a streamed template reads lazily, and their cleanup.

A template iterates its context values while it streams, so a QuerySet must
not be read through its result cache (the whole table in memory before the
first row leaves) and a generator's ``finally`` must run even when the client
goes away half-way. :func:`lazy_values` adapts a context for that and returns
what to close when the stream ends.
"""

from __future__ import annotations

import types
from collections.abc import AsyncIterator, Iterator
from typing import Any

from django.db.models import QuerySet

from django_streamkit._core.bridge import AsyncDriver, acall_all, call_all


class Started:
    """Set when the template first iterates one of the watched values."""

    __slots__ = ("value", "watched")

    def __init__(self) -> None:
        self.watched = False
        self.value = False


class Watched:
    """A sync iterable that tells :class:`Started` when iteration begins.

    ``iter()`` hands back the value's own iterator, so rows cost nothing more.
    """

    __slots__ = ("_started", "value")

    def __init__(self, value: Any, started: Started) -> None:
        self.value = value
        self._started = started
        started.watched = True

    def __iter__(self) -> Iterator[Any]:
        self._started.value = True
        return iter(self.value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.value, name)

    def __str__(self) -> str:
        return str(self.value)


class AsyncWatched(Watched):
    """:class:`Watched` for an async iterable in an async template."""

    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(f"{self.value!r} is async; iterate it in an async template")

    def __aiter__(self) -> AsyncIterator[Any]:
        self._started.value = True
        return aiter(self.value)


class LazyQuerySet:
    """A QuerySet that a template reads in chunks of ``chunk_size`` rows.

    Iterating it uses ``QuerySet.iterator()`` (``aiterator()`` in an async
    template), so rows are fetched in chunks (server-side cursors on
    PostgreSQL) and never cached. ``length`` and truth tests ask the database
    (``count()``, ``exists()``) instead of loading the rows; everything else
    is the QuerySet's own.
    """

    __slots__ = ("_chunk_size", "_open", "_started", "queryset")

    def __init__(
        self, queryset: QuerySet[Any], chunk_size: int, started: Started
    ) -> None:
        self.queryset = queryset
        self._chunk_size = chunk_size
        self._open: list[Any] = []
        self._started = started
        started.watched = True

    def __iter__(self) -> Iterator[Any]:
        self._started.value = True
        rows = self.queryset.iterator(chunk_size=self._chunk_size)
        self._open.append(rows)
        return rows

    def __aiter__(self) -> AsyncIterator[Any]:
        self._started.value = True
        rows = self.queryset.aiterator(chunk_size=self._chunk_size)
        self._open.append(rows)
        return rows

    def __len__(self) -> int:
        return self.queryset.count()

    def __bool__(self) -> bool:
        return self.queryset.exists()

    def __getitem__(self, key: Any) -> Any:
        return self.queryset[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.queryset, name)

    def __repr__(self) -> str:
        return f"<LazyQuerySet {self.queryset.query.model!r}>"

    def close(self) -> None:
        close_all(self._open)

    async def aclose(self) -> None:
        await aclose_all(self._open)


def _no_close() -> None:
    return None


async def _no_aclose() -> None:
    return None


def lazy_values(
    context: dict[str, Any], *, is_async: bool, chunk_size: int
) -> tuple[list[object], Started]:
    """Adapt ``context`` (in place) for a streamed template.

    QuerySets that have not been evaluated become :class:`LazyQuerySet`. In a
    sync template, async iterables are driven one item at a time by the core's
    bridge. Generators, async generators and QuerySets are watched, so the
    caller knows when the template starts reading them (see
    :class:`Started`).

    Returns the values to close when the stream ends, so that a generator's
    ``finally`` (and a database cursor) is released on completion, on error
    and on disconnect alike, and the :class:`Started` flag.
    """
    closables: list[object] = []
    started = Started()
    for key, value in list(context.items()):
        if isinstance(value, QuerySet):
            if value._result_cache is None:  # not already in memory
                context[key] = LazyQuerySet(value, chunk_size, started)
                closables.append(context[key])
        elif isinstance(value, types.AsyncGeneratorType) or (
            hasattr(value, "__aiter__") and not hasattr(value, "__iter__")
        ):
            if not is_async:
                source = value.__aiter__()
                value = AsyncDriver(source, getattr(source, "aclose", _no_aclose))
                context[key] = Watched(value, started)
            else:
                context[key] = AsyncWatched(value, started)
            closables.append(value)
        elif isinstance(value, Iterator):  # a generator, map(), a cursor...
            context[key] = Watched(value, started)
            if isinstance(value, types.GeneratorType):
                closables.append(value)
    return closables, started


def close_all(closables: list[Any]) -> None:
    """Close each one (``close()``), then raise the first error, if any."""
    call_all(getattr(obj, "close", _no_close) for obj in closables)


async def aclose_all(closables: list[Any]) -> None:
    """The async twin of :func:`close_all`: ``aclose()`` where there is one."""
    await acall_all(
        obj.aclose if hasattr(obj, "aclose") else getattr(obj, "close", _no_close)
        for obj in closables
    )
