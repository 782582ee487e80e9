"""Streamed JSON and JSON Lines: :func:`stream_json`, :class:`StreamingJSONResponse`,
:func:`stream_ndjson` and :class:`StreamingNDJSONResponse`.

The document is what ``json.dumps(list(items), cls=DjangoJSONEncoder)`` would
give, written compactly in UTF-8, made a batch of items at a time on the
same relay as every other stream (see ``docs/json.md``). A ``values()`` or
``values_list()`` QuerySet is read in fetched chunks, a column at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django_streamkit._core.types import AsyncChunks, SyncChunks
from django_streamkit._json.feed import Encoder, Items, json_feed
from django_streamkit._writers.json import chunks_of
from django_streamkit.responses import StreamingResponse

__all__ = [
    "StreamingJSONResponse",
    "StreamingNDJSONResponse",
    "stream_json",
    "stream_ndjson",
]

JSON_CONTENT_TYPE = "application/json"
NDJSON_CONTENT_TYPE = "application/x-ndjson"


def stream_json(
    items: Items,
    *,
    encoder: Encoder | None = None,
    envelope: Mapping[str, object] | None = None,
    key: str = "results",
) -> SyncChunks | AsyncChunks:
    """One JSON document of ``items``, as byte chunks of about
    ``STREAMKIT_CHUNK_SIZE``: an array, or with ``envelope`` (a dict) that
    dict with ``key`` holding the array (``{"count": 2, "results": [...]}``).

    ``encoder`` is a ``json.JSONEncoder`` subclass (``DjangoJSONEncoder``
    by default: dates, datetimes, decimals, UUIDs, lazy strings). An async
    iterable gives an async iterator. Bad arguments raise here; an item that
    can't be encoded raises when it is reached, naming it.
    """
    return chunks_of(json_feed(items, encoder=encoder, envelope=envelope, key=key))


def stream_ndjson(
    items: Items, *, encoder: Encoder | None = None
) -> SyncChunks | AsyncChunks:
    """JSON Lines (newline-delimited JSON) of ``items``: each item's JSON on
    a line of its own, ended by ``\\n``."""
    return chunks_of(
        json_feed(items, encoder=encoder, lines=True, caller="stream_ndjson()")
    )


class StreamingJSONResponse(StreamingResponse):
    """An ``application/json`` :class:`StreamingResponse` over :func:`stream_json`.

    The first item is encoded before the view returns (in a sync view), so an
    item that can't be encoded there is a 500; after the first byte, the
    error is logged on ``django_streamkit`` and the connection is aborted, so
    no client takes a truncated document for a whole one.
    """

    def __init__(
        self,
        items: Items,
        *,
        encoder: Encoder | None = None,
        envelope: Mapping[str, object] | None = None,
        key: str = "results",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        feed = json_feed(
            items,
            encoder=encoder,
            envelope=envelope,
            key=key,
            caller=type(self).__name__,
        )
        super().__init__(
            feed,
            content_type=_content_type(headers, JSON_CONTENT_TYPE),
            status=status,
            headers=headers,
        )


class StreamingNDJSONResponse(StreamingResponse):
    """An ``application/x-ndjson`` :class:`StreamingResponse` over
    :func:`stream_ndjson`; errors as for :class:`StreamingJSONResponse`."""

    def __init__(
        self,
        items: Items,
        *,
        encoder: Encoder | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        feed = json_feed(items, encoder=encoder, lines=True, caller=type(self).__name__)
        super().__init__(
            feed,
            content_type=_content_type(headers, NDJSON_CONTENT_TYPE),
            status=status,
            headers=headers,
        )


def _content_type(headers: Mapping[str, Any] | None, default: str) -> str | None:
    # A Content-Type given in ``headers`` is sent as it is.
    if any(name.lower() == "content-type" for name in headers or ()):
        return None
    return default
