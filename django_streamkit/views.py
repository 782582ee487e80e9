"""Class-based views that stream, in Django's idiom."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, ClassVar, Unpack

from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.text import slugify
from django.views.generic.base import ContextMixin, View

from django_streamkit._core.types import Stream
from django_streamkit._db.columns import (
    CSVColumn,
    DeclaredColumns,
    positions,
)
from django_streamkit._events.views import EventStreamView
from django_streamkit._json.view import JSONStreamView
from django_streamkit._writers.csv_format import CSVOptions, Dialect
from django_streamkit.context import request_scope, stream_with_context
from django_streamkit.csv import StreamingCSVResponse, queryset_rows
from django_streamkit.responses import StreamingResponse
from django_streamkit.templating import StreamingTemplateResponse

__all__ = [
    "AsyncTemplateStreamView",
    "CSVColumn",
    "CSVStreamView",
    "EventStreamView",
    "JSONStreamView",
    "StreamingView",
    "TemplateStreamView",
    "XLSXStreamView",
]

# -- any stream --------------------------------------------------------------------


class StreamingView(View):
    """A view whose body is its ``stream()`` generator.

    ``stream(request, *args, **kwargs)`` is a generator or async generator
    method yielding ``str`` or ``bytes``; an async one makes the view async.
    It runs with the request scope of the view (``current_request``, the
    context variables, the active language and time zone), bound by the view
    itself, so no middleware is needed::

        class Hello(StreamingView):
            content_type = "text/plain"

            def stream(self, request):
                yield "Hello "
                yield request.GET.get("name", "World")
                yield "!"
    """

    #: The ``Content-Type`` header; ``None`` is Django's default (text/html).
    content_type: str | None = None
    #: ``StreamingResponse`` or any ``StreamingHttpResponse`` subclass.
    response_class: type[StreamingHttpResponse] = StreamingResponse

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # Django decides sync or async from the handlers: make ``get`` follow
        # ``stream``, unless the subclass wrote its own.
        if cls.get in (StreamingView._sync_get, StreamingView._async_get):
            is_async = inspect.isasyncgenfunction(cls.stream)
            cls.get = StreamingView._async_get if is_async else StreamingView._sync_get

    def stream(self, request: HttpRequest, *args: object, **kwargs: object) -> Stream:
        raise ImproperlyConfigured(
            f"{type(self).__qualname__} must define stream(self, request, *args, "
            "**kwargs), a generator (or async generator) method that yields the "
            "body as str or bytes."
        )

    def get_headers(self) -> dict[str, str]:
        """Extra response headers."""
        return {}

    def render_to_response(self, source: Stream) -> StreamingHttpResponse:
        return self.response_class(
            source, content_type=self.content_type, headers=self.get_headers()
        )

    def _respond(
        self, request: HttpRequest, *args: object, **kwargs: object
    ) -> StreamingHttpResponse:
        with request_scope(request):
            return self.render_to_response(
                stream_with_context(self.stream(request, *args, **kwargs))
            )

    def _sync_get(
        self, request: HttpRequest, *args: object, **kwargs: object
    ) -> StreamingHttpResponse:
        return self._respond(request, *args, **kwargs)

    async def _async_get(
        self, request: HttpRequest, *args: object, **kwargs: object
    ) -> StreamingHttpResponse:
        response = self._respond(request, *args, **kwargs)
        if isinstance(response, StreamingResponse) and isinstance(request, ASGIRequest):
            # The first piece is made on the loop that will send the rest, so
            # an error in it is raised from the view (not under WSGI, where
            # the view's loop ends when it returns).
            await response.aprime()
        return response

    get: Callable[..., StreamingHttpResponse | Awaitable[StreamingHttpResponse]] = (
        _sync_get
    )


# -- streamed templates ------------------------------------------------------------


class TemplateStreamView(ContextMixin, View):
    """``TemplateView``, streamed: renders a Jinja2 template while sending it.

    Set ``template_name`` (or override ``get_template_names()``) and
    ``get_context_data()``. ``template_engine`` picks a Jinja2 engine from
    ``TEMPLATES`` by alias; ``buffer_size`` overrides
    ``STREAMKIT_TEMPLATE_BUFFER_SIZE``. Works under WSGI and ASGI; with an
    ``enable_async`` engine, use :class:`AsyncTemplateStreamView` under ASGI.
    """

    template_name: str | None = None
    template_engine: str | None = None
    buffer_size: int | None = None
    content_type: str | None = None
    response_class: type[StreamingTemplateResponse] = StreamingTemplateResponse

    def get_template_names(self) -> list[str]:
        if self.template_name is None:
            raise ImproperlyConfigured(
                f"{type(self).__name__} requires either a definition of "
                "'template_name' or an implementation of 'get_template_names()'."
            )
        return [self.template_name]

    def render_to_response(
        self, context: dict[str, Any], **response_kwargs: Any
    ) -> StreamingTemplateResponse:
        response_kwargs.setdefault("content_type", self.content_type)
        response_kwargs.setdefault("using", self.template_engine)
        response_kwargs.setdefault("buffer_size", self.buffer_size)
        return self.response_class(
            self.request, self.get_template_names(), context, **response_kwargs
        )

    def get(
        self, request: HttpRequest, *args: object, **kwargs: object
    ) -> StreamingTemplateResponse:
        return self.render_to_response(self.get_context_data(**kwargs))


class AsyncTemplateStreamView(TemplateStreamView):
    """:class:`TemplateStreamView` as an async view.

    Under ASGI an ``enable_async`` engine then renders natively on the event
    loop (``generate_async``); a sync engine renders on the request's worker
    thread. The first piece is rendered before the view returns, so errors in
    it are raised from the view. ``get_context_data()`` runs on the event
    loop: keep it free of blocking calls (QuerySets stay lazy until rendered).
    """

    async def get(  # type: ignore[override]
        self, request: HttpRequest, *args: object, **kwargs: object
    ) -> StreamingTemplateResponse:
        response = self.render_to_response(self.get_context_data(**kwargs))
        await response.aprime()
        return response


# -- CSV ---------------------------------------------------------------------


class CSVStreamView(DeclaredColumns, View):
    """Stream a QuerySet as a CSV download, in Django's class-based idiom.

    Rows are read with ``values_list(*fields).iterator()``, so no model
    instance is built per row and memory stays flat however many rows there
    are. ``fields`` may follow relations (``"author__name"``) and name
    annotations of ``get_queryset()``; ``"__all__"`` exports every concrete
    field. Column labels come from ``verbose_name``; ``labels`` overrides them.
    ``choices_as_labels`` (``True`` or a collection of field names) writes a
    choice field's display label instead of its stored value.
    """

    # model, queryset, fields, labels, choices_as_labels, filename,
    # escape_formulas and verbatim_fields: see CSVDeclaration; get_queryset(),
    # get_fields(), get_labels(), get_columns() and get_choices_as_labels():
    # see DeclaredColumns.
    include_header: bool = True
    response_class: ClassVar[type[StreamingCSVResponse]] = StreamingCSVResponse
    # Passed to StreamingCSVResponse; None means the STREAMKIT_* setting.
    dialect: Dialect = "excel"
    encoding: str = "utf-8"
    bom: bool = False
    chunk_size: int | None = None

    http_method_names = ["get", "head", "options"]

    def get(
        self, request: HttpRequest, *args: object, **kwargs: object
    ) -> StreamingCSVResponse:
        self.object_list = self.get_queryset()
        self.columns = self.get_columns()
        return self.render_to_response()

    # -- hooks, in the order they run -------------------------------------

    def get_header(self, columns: Sequence[CSVColumn]) -> list[str] | None:
        return [column.label for column in columns] if self.include_header else None

    def get_rows(self) -> Iterable[Sequence[object]]:
        """The rows to write: ``values_list`` tuples read with ``.iterator()``."""
        columns = self.columns
        queryset = self.object_list.values_list(*[c.name for c in columns])
        return queryset_rows(queryset, self.get_choices_as_labels(columns))

    def get_filename(self) -> str | None:
        """The download's name; ``None`` streams it inline."""
        if self.filename is not None:
            return self.filename
        opts = self.object_list.model._meta
        return f"{slugify(str(opts.verbose_name_plural), allow_unicode=True)}.csv"

    def get_verbatim(self, columns: Sequence[CSVColumn]) -> list[int]:
        """The positions of ``verbatim_fields``, never formula-escaped."""
        return positions(columns, self.verbatim_fields, type(self).__name__)

    def get_response_kwargs(self) -> CSVOptions:
        return CSVOptions(
            dialect=self.dialect,
            escape_formulas=self.escape_formulas,
            verbatim=self.get_verbatim(self.columns),
            encoding=self.encoding,
            bom=self.bom,
            chunk_size=self.chunk_size,
        )

    def render_to_response(
        self, **response_kwargs: Unpack[CSVOptions]
    ) -> StreamingCSVResponse:
        options = self.get_response_kwargs()
        options["header"] = self.get_header(self.columns)
        options.update(response_kwargs)
        return self.response_class(
            self.get_body_rows(), filename=self.get_filename(), **options
        )

    def get_body_rows(self) -> Iterable[Sequence[object]]:
        """``get_rows()``, or none for a HEAD: servers read a HEAD body to its
        end before dropping it, which would run the whole query."""
        if self.request.method == "HEAD":
            return iter(())
        return self.get_rows()


# Last: it subclasses CSVStreamView.
from django_streamkit._xlsx.view import XLSXStreamView  # noqa: E402
