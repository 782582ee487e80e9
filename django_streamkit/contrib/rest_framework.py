"""Streamed list endpoints for Django REST framework: :class:`StreamingListMixin`.

Put the mixin before ``ListAPIView`` (or ``ModelViewSet``)::

    class BookList(StreamingListMixin, generics.ListAPIView):
        queryset = Book.objects.all()
        serializer_class = BookSerializer
        filter_backends = [DjangoFilterBackend]
        filterset_fields = ["genre"]

``list()`` then applies the view's ``filter_queryset()`` (django-filter,
search, ordering), after DRF has checked its permissions and throttles, and
streams the rows, each serialised by the view's serializer as it is read
(one serializer for all rows, as DRF's ``ListSerializer`` does), in the
format content negotiation picks: JSON, JSON Lines (``application/x-ndjson``,
``?format=ndjson``) or CSV (``text/csv``, ``?format=csv``). It does not
paginate: a streamed list is the whole list, in flat memory. Needs the
``drf`` extra (``pip install "django-streamkit[drf]"``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from typing import Any

try:
    from rest_framework import (  # type: ignore[import-untyped]
        renderers,
        serializers,
    )
    from rest_framework.utils import encoders  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - the message is tested
    raise ImportError(
        "django_streamkit.contrib.rest_framework needs Django REST framework; "
        "install it with: pip install 'django-streamkit[drf]'."
    ) from exc

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.http.response import HttpResponseBase

from django_streamkit._db.queryset import QuerySetRows
from django_streamkit._writers.json_cells import as_bytes, line_safe
from django_streamkit.conf import conf
from django_streamkit.csv import StreamingCSVResponse
from django_streamkit.json import StreamingJSONResponse, StreamingNDJSONResponse

__all__ = [
    "StreamingCSVRenderer",
    "StreamingJSONRenderer",
    "StreamingListMixin",
    "StreamingNDJSONRenderer",
]


class StreamingJSONRenderer(renderers.JSONRenderer):  # type: ignore[misc]
    """``application/json``: a streamed list is written by
    :class:`~django_streamkit.StreamingJSONResponse` with this renderer's
    ``encoder_class`` and ``strict``; other responses (errors) as DRF's own."""


class StreamingNDJSONRenderer(renderers.BaseRenderer):  # type: ignore[misc]
    """``application/x-ndjson`` (``?format=ndjson``): one JSON value a line."""

    media_type = "application/x-ndjson"
    format = "ndjson"
    charset = None
    encoder_class = encoders.JSONEncoder
    strict = renderers.JSONRenderer.strict

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        encoder = _encoder(self.encoder_class, self.strict)
        text = encoder(separators=(",", ":"), ensure_ascii=False).encode(data)
        return line_safe(as_bytes(text)) + b"\n"


class StreamingCSVRenderer(renderers.BaseRenderer):  # type: ignore[misc]
    """``text/csv`` (``?format=csv``): a column per readable serializer field,
    written by :class:`~django_streamkit.StreamingCSVResponse` (formula
    escaping on). Nested values are written as their ``str()``: flatten them
    in the serializer for CSV."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        # What is not a streamed list: an error's {"detail": ...}, one row.
        if data is None:
            return b""
        rows = data if isinstance(data, list) else [data]
        header = list(rows[0]) if rows and isinstance(rows[0], Mapping) else None
        return b"".join(StreamingCSVResponse(rows, header=header))


_LIST_REPRESENTATION = serializers.ListSerializer.to_representation

STREAMING_RENDERERS = (
    StreamingJSONRenderer,
    StreamingNDJSONRenderer,
    StreamingCSVRenderer,
)


class StreamingListMixin:
    """Streams ``list()`` instead of paginating it (see the module's doc).

    A renderer that is not one of the streaming renderers (the browsable
    API, if added to ``renderer_classes``) gets the view's own ``list()``.
    """

    renderer_classes = list(STREAMING_RENDERERS)

    request: Any

    def list(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
        renderer = request.accepted_renderer
        if not isinstance(renderer, STREAMING_RENDERERS):
            return super().list(request, *args, **kwargs)  # type: ignore[misc,no-any-return]
        queryset = self.filter_queryset(self.get_queryset())  # type: ignore[attr-defined]
        serializer = self.get_serializer(queryset, many=True)  # type: ignore[attr-defined]
        child = getattr(serializer, "child", None)
        if child is None:
            raise ImproperlyConfigured(
                f"{type(self).__name__}.get_serializer(many=True) returned "
                f"{type(serializer).__name__}, which has no child serializer; "
                f"StreamingListMixin streams a ListSerializer's child, row by row."
            )
        if type(serializer).to_representation is not _LIST_REPRESENTATION:
            # Its list would differ from the rows streamed one at a time.
            raise ImproperlyConfigured(
                f"{type(serializer).__name__} (the list serializer of "
                f"{type(self).__name__}) overrides to_representation(), which "
                f"StreamingListMixin can't apply to a list it streams row by "
                f"row; move that work into {type(child).__name__}."
                f"to_representation() or override get_stream_rows()."
            )
        rows: Iterator[Any] = iter(())
        if request.method != "HEAD":
            # A HEAD gets the headers only: servers read a HEAD body to its
            # end before dropping it, serialising every row.
            rows = self.get_stream_rows(queryset, child)
        return self.get_streaming_response(rows, renderer, child)

    def get_stream_rows(self, queryset: Iterable[Any], child: Any) -> Iterator[Any]:
        """Each row as ``child`` (the view's serializer) represents it, made as
        the QuerySet is read in chunks (never through its result cache)."""
        if isinstance(queryset, QuerySet):
            return QuerySetRows(
                queryset, conf.QUERYSET_CHUNK_SIZE, row=child.to_representation
            )
        return map(child.to_representation, queryset)

    def get_streaming_response(
        self, rows: Iterator[Any], renderer: Any, child: Any
    ) -> HttpResponseBase:
        """The streamed response of ``rows`` in ``renderer``'s format."""
        if isinstance(renderer, StreamingCSVRenderer):
            header = [
                field.field_name
                for field in child.fields.values()
                if not field.write_only
            ]
            return StreamingCSVResponse(rows, header=header)
        encoder = _encoder(renderer.encoder_class, renderer.strict)
        if isinstance(renderer, StreamingNDJSONRenderer):
            return StreamingNDJSONResponse(rows, encoder=encoder)
        return StreamingJSONResponse(rows, encoder=encoder)


@cache
def _encoder(base: type[json.JSONEncoder], strict: bool) -> type[json.JSONEncoder]:
    """``base`` refusing NaN and infinities where DRF's ``STRICT_JSON`` does."""
    if not strict:
        return base

    class Strict(base):  # type: ignore[valid-type,misc]
        def __init__(self, **kwargs: Any) -> None:
            kwargs["allow_nan"] = False
            super().__init__(**kwargs)

    Strict.__name__ = Strict.__qualname__ = base.__name__
    return Strict
