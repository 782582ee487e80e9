"""Class-based views that stream, in Django's idiom."""

from __future__ import annotations

import inspect
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, StreamingHttpResponse
from django.views.generic.base import ContextMixin, View

from django_streamkit._typing import Stream
from django_streamkit.context import request_scope, stream_with_context
from django_streamkit.responses import StreamingResponse
from django_streamkit.templating import StreamingTemplateResponse

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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Django decides sync or async from the handlers: make ``get`` follow
        # ``stream``, unless the subclass wrote its own.
        if cls.get in (StreamingView._sync_get, StreamingView._async_get):
            is_async = inspect.isasyncgenfunction(cls.stream)
            cls.get = StreamingView._async_get if is_async else StreamingView._sync_get

    def stream(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Stream:
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

    def _respond(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        with request_scope(request):
            return self.render_to_response(
                stream_with_context(self.stream(request, *args, **kwargs))
            )

    def _sync_get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        return self._respond(request, *args, **kwargs)

    async def _async_get(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> StreamingHttpResponse:
        return self._respond(request, *args, **kwargs)  # type: ignore[no-any-return]

    get = _sync_get


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
        self, request: HttpRequest, *args: Any, **kwargs: Any
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
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> StreamingTemplateResponse:
        response = self.render_to_response(self.get_context_data(**kwargs))
        await response.aprime()
        return response
