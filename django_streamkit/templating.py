"""Streamed Jinja2 templates from the project's ``TEMPLATES``.

Flask's pattern (``template.stream(context)`` with ``enable_buffering(5)``),
with the template and its context coming from Django's Jinja2 engine, and the
response built on :class:`~django_streamkit.responses.StreamingResponse`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
from django.http import HttpRequest
from django.template.backends.base import BaseEngine

from django_streamkit._templating.context import environment, syntax_error
from django_streamkit._templating.stream import (
    TextStream,
    by_name,
    render,
    template_names,
)
from django_streamkit.responses import StreamingResponse


def stream_template(
    request: HttpRequest | None,
    template_name: str | Sequence[str],
    context: Mapping[str, Any] | None = None,
    *,
    using: str | None = None,
    buffer_size: int | None = None,
) -> TextStream:
    """Render a Jinja2 template from ``TEMPLATES`` in pieces.

    ``template_name`` may be a list: the first that exists is used. The
    template is looked up, the context built and the CSRF token made now, so
    a missing template or a syntax error raises here; the body is rendered as
    it is iterated, ``buffer_size`` template pieces at a time.

    Returns an iterator of ``str``; when the engine has ``enable_async`` and
    this is called from an async view under ASGI, an async iterator rendered
    with Jinja2's ``generate_async``.
    """
    select = by_name(template_names(template_name))
    return render(request, select, context, using=using, buffer_size=buffer_size)


def stream_template_string(
    request: HttpRequest | None,
    source: str,
    context: Mapping[str, Any] | None = None,
    *,
    using: str | None = None,
    buffer_size: int | None = None,
) -> TextStream:
    """:func:`stream_template` for a template given as its source."""
    if not isinstance(source, str):
        raise TypeError(
            f"source must be the template's source as a str, not {source!r}; "
            "use stream_template() to load a template by name."
        )

    def select(candidates: list[BaseEngine]) -> tuple[BaseEngine, jinja2.Template]:
        engine = candidates[0]
        try:
            return engine, environment(engine).from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise syntax_error(exc) from exc

    return render(request, select, context, using=using, buffer_size=buffer_size)


class StreamingTemplateResponse(StreamingResponse):
    """A ``text/html`` response over :func:`stream_template`.

    Like Django's ``TemplateResponse``, it keeps ``template_name`` and
    ``context_data``; unlike it, the body is rendered while it is sent. In an
    async view, ``await response.aprime()`` before returning it, so errors in
    the first piece are raised from the view.
    """

    def __init__(
        self,
        request: HttpRequest | None,
        template_name: str | Sequence[str],
        context: Mapping[str, Any] | None = None,
        *,
        content_type: str | None = None,
        status: int | None = None,
        using: str | None = None,
        buffer_size: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.template_name = template_name
        self.context_data = context
        self.using = using
        select = by_name(template_names(template_name))
        pieces = render(
            request, select, context, using=using, buffer_size=buffer_size, relayed=True
        )
        super().__init__(
            pieces,
            content_type=content_type,
            status=200 if status is None else status,
            headers=headers,
        )
