"""Class-based views that stream, in Django's idiom."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.views.generic.base import ContextMixin, View

from django_streamkit.templating import StreamingTemplateResponse

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
