"""The JSON feed: items in, one JSON document (or JSON Lines) out.

Nothing here imports Django. A batch of items is encoded in one call of the
encoder (``encoder.encode(batch)`` without its brackets), so the document is
exactly what encoding the whole list at once would give, written compactly
(``","`` and ``":"``) in UTF-8: the text of ``json.dumps(list(items), cls=...,
separators=(",", ":"), ensure_ascii=False)``, a lone surrogate escaped as
``\\udXXX`` (the one character UTF-8 can't hold). JSON Lines encode each item
on its own line. A QuerySet's rows arrive as fetched batches of fragments
(see :mod:`~django_streamkit._writers.json_cells`), written a row per ``%``.
The item source is closed when the chunks end, fail or are closed early.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from django_streamkit._core.feed import PacedFeed, chunks_of
from django_streamkit._writers.json_cells import as_bytes, line_safe

__all__ = ["JSONFeed", "JSONFormat", "RowWriter", "chunks_of"]


class RowWriter(Protocol):
    """How a QuerySet's rows become JSON (see ``json_cells.ColumnRows``)."""

    def column(self, index: int) -> Callable[[Sequence[Any]], Sequence[Any]]: ...

    def write(self, batches: list[Any]) -> bytes:
        """Batches of columns as their rows, joined by ``","`` (or each
        ended by a line end)."""
        ...


def _rows_in(batch: Sequence[Sequence[Any]]) -> int:
    return len(batch[0]) if batch else 0


def short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class JSONFormat:
    """How items become JSON: the encoder, and the document around them.

    ``envelope`` (a mapping) makes the document that mapping with ``key``
    holding the array (where ``key`` already is, else last); it is encoded
    here, so a bad envelope raises at once. ``lines``: JSON Lines.
    """

    def __init__(
        self,
        encoder: json.JSONEncoder,
        *,
        lines: bool = False,
        envelope: Mapping[str, object] | None = None,
        key: str = "results",
        chunk_size: int = 64 * 1024,
        max_latency: float = 0.1,
    ) -> None:
        self.encoder = encoder
        self.encode = encoder.encode
        self.lines = lines
        self.chunk_size = chunk_size
        self.max_latency = max_latency
        self.head, self.tail = (b"", b"") if lines else (b"[", b"]")
        if envelope is not None:
            if lines:
                raise TypeError("JSON Lines have no envelope; use stream_json().")
            self.head, self.tail = self._around(envelope, key)

    def _around(self, envelope: object, key: object) -> tuple[bytes, bytes]:
        if not isinstance(envelope, Mapping):
            raise TypeError(
                f"envelope must be a dict, not {short_repr(envelope)} "
                f"({type(envelope).__name__}); for example "
                '{"count": queryset.count()}.'
            )
        if not isinstance(key, str):
            raise TypeError(
                f"key must be a str naming the array in the envelope, not "
                f"{short_repr(key)} ({type(key).__name__})."
            )
        # A marker no value can contain splits the envelope's text around
        # the array, wherever the encoder puts it.
        marker = f"\x00streamkit:{uuid.uuid4().hex}"
        try:
            text = self.encode({**envelope, key: marker})
        except (TypeError, ValueError) as error:
            kind = TypeError if isinstance(error, TypeError) else ValueError
            raise kind(
                f"The envelope {short_repr(envelope)} can't be encoded by "
                f"{type(self.encoder).__name__}: {error}. Give it values to "
                f"encode (a count as a number: queryset.count(), called)."
            ) from error
        before, found, after = text.partition(self.encode(marker))
        assert found, "the encoder wrote the marker"
        return as_bytes(before + "["), as_bytes("]" + after)

    def items_text(self, items: list[Any], start: int) -> str:
        """``items`` as JSON text without the brackets or the line ends;
        ``start`` is the first one's index, for the error."""
        try:
            if self.lines:
                return "\n".join(map(self.encode, items))
            return self.encode(items)[1:-1]
        except (TypeError, ValueError) as exc:
            raise self._error(items, start, exc) from exc

    def _error(self, items: list[Any], start: int, exc: Exception) -> Exception:
        for index, item in enumerate(items, start):
            try:
                self.encode(item)
            except (TypeError, ValueError) as error:
                kind = TypeError if isinstance(error, TypeError) else ValueError
                return kind(
                    f"Item {index} of the JSON stream can't be encoded by "
                    f"{type(self.encoder).__name__}: {error} (the item: "
                    f"{short_repr(item)}). Convert it to a str, number, bool, "
                    f"None, list or dict first, or pass encoder=<a "
                    f"JSONEncoder subclass that encodes it>."
                )
        return exc


class JSONFeed(PacedFeed[Any]):
    """Encoded JSON of ``items``, as a :class:`Feed` and as an iterator.

    As :class:`~django_streamkit._writers.csv.CSVFeed`: relayed by a
    streaming response, or iterated directly (the head and the first item
    first, then chunks of about ``chunk_size``). ``row`` (a ``%`` template)
    means the items are fetched batches of rows of fragments.
    """

    fmt: JSONFormat
    noun = "items"

    def __init__(
        self,
        items: Iterator[object] | AsyncIterator[object],
        fmt: JSONFormat,
        *,
        head_apart: bool = False,
        rows: RowWriter | None = None,
    ) -> None:
        self.fmt = fmt
        self.source = items
        self.is_async = hasattr(items, "__anext__")
        self.head_alone = head_apart
        self.weigh = None if rows is None else _rows_in
        self._rows = rows

    # -- Feed ----------------------------------------------------------------

    def head(self) -> bytes:
        return self.fmt.head

    def tail(self) -> bytes:
        return self.fmt.tail

    def render(self, items: list[Any]) -> bytes:
        fmt = self.fmt
        if self._rows is not None:
            count = sum(map(_rows_in, items))
            data = self._rows.write(items) if count else b""
        else:
            count = len(items)
            text = fmt.items_text(items, self._count)
            data = as_bytes(text + "\n" if fmt.lines and count else text)
        if not count:
            return b""
        if fmt.lines:
            data = line_safe(data)
        elif self._count:
            data = b"," + data
        return self._wrote(count, data)
