""":class:`JSONStreamView`: the JSON twin of ``CSVStreamView`` (re-exported by
:mod:`django_streamkit.views`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.text import slugify
from django.views.generic.base import View

from django_streamkit._db.columns import (
    CSVColumn,
    DeclaredColumns,
)
from django_streamkit._db.queryset import QuerySetRows
from django_streamkit._http import content_disposition
from django_streamkit._json.feed import json_feed
from django_streamkit.conf import conf
from django_streamkit.json import StreamingJSONResponse, StreamingNDJSONResponse
from django_streamkit.responses import StreamingResponse

__all__ = ["JSONDownloadView", "JSONStreamView", "NDJSONDownloadView"]


class JSONStreamView(DeclaredColumns, View):
    """Stream a QuerySet as JSON, in Django's class-based idiom.

    The same ``model``, ``queryset``, ``fields``, ``labels`` and
    ``choices_as_labels`` as ``CSVStreamView``: each row is an object keyed
    by field name (``labels`` renames keys), read with
    ``values_list(*fields)`` a fetched chunk and a column at a time, so no
    model instance is built and memory stays flat. ``?format=ndjson`` (the
    ``format`` query parameter, or the ``format`` attribute) streams JSON
    Lines instead of one array. ``get_envelope()`` may return a dict to wrap
    the array in (``{"count": ..., "results": [...]}``); ``filename`` makes
    the response a download.
    """

    #: "json" or "ndjson"; ``None``: the request's ``?format=``, else "json".
    format: str | None = None
    #: The query parameter that picks the format.
    format_param: str = "format"
    #: The response class of each format.
    response_classes: ClassVar[Mapping[str, type[StreamingResponse]]] = {
        "json": StreamingJSONResponse,
        "ndjson": StreamingNDJSONResponse,
    }
    #: A ``json.JSONEncoder`` subclass; ``None`` is ``DjangoJSONEncoder``.
    encoder: type[json.JSONEncoder] | None = None
    #: Where ``get_envelope()`` puts the array.
    envelope_key: str = "results"
    #: With no ``filename``, download as ``<verbose_name_plural>.<format>``
    #: (exports do) instead of streaming inline.
    as_attachment: bool = False

    http_method_names = ["get", "head", "options"]

    def get(
        self, request: HttpRequest, *args: object, **kwargs: object
    ) -> HttpResponse:
        chosen = self.get_format()
        if chosen not in self.response_classes:
            return HttpResponseBadRequest(
                f"Unknown format {chosen!r}; choose from "
                f"{', '.join(self.response_classes)} (?{self.format_param}=...).",
                content_type="text/plain; charset=utf-8",
            )
        self.chosen_format = chosen
        self.object_list = self.get_queryset()
        self.columns = self.get_columns()
        return self.render_to_response()

    # -- hooks, in the order they run -------------------------------------

    def get_format(self) -> str:
        if self.format is not None:
            return self.format
        return self.request.GET.get(self.format_param, "json")

    def get_keys(self, columns: Sequence[CSVColumn]) -> list[str]:
        """Each row's keys: the field names, or their ``labels``."""
        labels = self.get_labels()
        keys = [str(labels.get(column.name, column.name)) for column in columns]
        for key in keys:
            if keys.count(key) > 1:
                named = [c.name for c, k in zip(columns, keys, strict=True) if k == key]
                raise ImproperlyConfigured(
                    f"{type(self).__name__} gives the key {key!r} twice (to "
                    f"{', '.join(named)}); a JSON object keeps one of them. "
                    f"Give each its own key in labels."
                )
        return keys

    def get_rows(self) -> QuerySetRows:
        """The rows: ``values_list`` tuples read in chunks."""
        columns = self.columns
        queryset = self.object_list.values_list(*[c.name for c in columns])
        return QuerySetRows(
            queryset, conf.QUERYSET_CHUNK_SIZE, self.get_choices_as_labels(columns)
        )

    def get_envelope(self) -> Mapping[str, object] | None:
        """A dict to wrap the array in, or ``None`` for a bare array (JSON only)."""
        return None

    def get_filename(self) -> str | None:
        """A download's name; ``None`` (the default) streams it inline."""
        if self.filename is not None or not self.as_attachment:
            return self.filename
        plural = str(self.object_list.model._meta.verbose_name_plural)
        return f"{slugify(plural, allow_unicode=True)}.{self.chosen_format}"

    def render_to_response(self) -> HttpResponse:
        lines = self.chosen_format == "ndjson"
        # A HEAD gets the GET's headers and no rows: servers read a HEAD
        # body to its end before dropping it, running the whole query.
        head = self.request.method == "HEAD"
        feed = json_feed(
            iter(()) if head else self.get_rows(),
            encoder=self.encoder,
            envelope=None if lines else self.get_envelope(),
            key=self.envelope_key,
            lines=lines,
            keys=self.get_keys(self.columns),
            caller=type(self).__name__,
        )
        response_class: Any = self.response_classes[self.chosen_format]
        response: HttpResponse = response_class(feed)
        if (filename := self.get_filename()) is not None:
            response.headers["Content-Disposition"] = content_disposition(filename)
        return response


class JSONDownloadView(JSONStreamView):
    """The ``"json"`` format of exports and the admin: a download."""

    format = "json"
    as_attachment = True


class NDJSONDownloadView(JSONDownloadView):
    """The ``"ndjson"`` format of exports and the admin: a JSON Lines download."""

    format = "ndjson"
