"""Streamed Jinja2 templates from the project's ``TEMPLATES``.

Flask's pattern (``template.stream(context)`` with ``enable_buffering(5)``),
with the template and its context coming from Django's Jinja2 engine, and the
response built on :class:`~django_streamkit.responses.StreamingResponse`.
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, TypeAlias, cast

import jinja2
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest
from django.template import TemplateDoesNotExist
from django.template.backends.base import BaseEngine
from jinja2.environment import TemplateStream

from django_streamkit._core.bridge import AsyncDriver
from django_streamkit._templating.context import (
    AfterHeaders,
    FirstPiece,
    build_context,
    environment,
    in_event_loop,
    jinja2_engines,
    jinja2_template,
    load_references,
    send_rendered_signal,
    syntax_error,
)
from django_streamkit._templating.lazy import aclose_all, close_all, lazy_values
from django_streamkit.conf import conf
from django_streamkit.responses import StreamingResponse

TextStream: TypeAlias = Iterator[str] | AsyncIterator[str]


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
    select = _by_name(_template_names(template_name))
    return _stream(request, select, context, using=using, buffer_size=buffer_size)


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

    return _stream(request, select, context, using=using, buffer_size=buffer_size)


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
        select = _by_name(_template_names(template_name))
        pieces = _stream(
            request, select, context, using=using, buffer_size=buffer_size, relayed=True
        )
        super().__init__(
            pieces,
            content_type=content_type,
            status=200 if status is None else status,
            headers=headers,
        )


# -- the private core behind both entry points ---------------------------------


Select: TypeAlias = Callable[[list[BaseEngine]], tuple[BaseEngine, jinja2.Template]]


def _by_name(names: list[str]) -> Select:
    def select(candidates: list[BaseEngine]) -> tuple[BaseEngine, jinja2.Template]:
        # Name by name, engine by engine, as django.template.loader does.
        tried: list[TemplateDoesNotExist] = []
        for name in names:
            for engine in candidates:
                try:
                    return engine, jinja2_template(engine.get_template(name))
                except TemplateDoesNotExist as exc:
                    tried.append(exc)
        raise TemplateDoesNotExist(", ".join(names), chain=tried)

    return select


def _stream_with_engine(
    engine: BaseEngine,
    request: HttpRequest | None,
    template_name: str,
    context: Mapping[str, Any] | None = None,
) -> TextStream:
    """:func:`stream_template` on an engine that is not in ``TEMPLATES``.

    For templates shipped with the app (the export index) that must render
    whether or not the project configured a Jinja2 engine.
    """
    select = _by_name([template_name])
    return _stream(request, select, context, using=None, buffer_size=None, on=[engine])


def _stream(
    request: HttpRequest | None,
    select: Select,
    context: Mapping[str, Any] | None,
    *,
    using: str | None,
    buffer_size: int | None,
    on: list[BaseEngine] | None = None,
    relayed: bool = False,
) -> TextStream:
    """The core of both entry points. ``relayed``: for a streaming response,
    whose relay joins pieces into chunks itself and lets none wait longer
    than ``STREAMKIT_MAX_LATENCY``; Jinja2's buffering, which would hold up
    to ``buffer_size`` pieces while the context's source blocks, then ends
    with the first piece."""
    size = _buffer_size(buffer_size)
    if context is not None and not isinstance(context, Mapping):
        raise TypeError(
            f"context must be a dict (or another mapping), not {context!r} "
            f"({type(context).__name__})."
        )
    engine, template = select(jinja2_engines(using) if on is None else on)
    load_references(template)
    values = build_context(request, engine, context)
    send_rendered_signal(template, values)

    is_async = template.environment.is_async
    closables, started = lazy_values(
        values, is_async=is_async, chunk_size=conf.QUERYSET_CHUNK_SIZE
    )
    first = FirstPiece(started, conf.CHUNK_SIZE)
    watch = AfterHeaders(request, template)
    if not is_async:
        return _generate(template, values, size, first, closables, watch, relayed)
    pieces = _agenerate(template, values, size, first, closables, watch, relayed)
    if isinstance(request, ASGIRequest) and in_event_loop():
        # An async view under ASGI: the response is iterated on this loop.
        return pieces
    # Elsewhere, step the async template one piece at a time on one private
    # loop, as a sync source that the response can prime in the view.
    return AsyncDriver(pieces, pieces.aclose)


def _generate(
    template: jinja2.Template,
    context: dict[str, Any],
    size: int,
    first: FirstPiece,
    closables: list[object],
    watch: AfterHeaders,
    relayed: bool,
) -> Iterator[str]:
    generator = cast("Generator[str]", template.generate(context))
    pieces = TemplateStream(generator)
    if size > 1:
        pieces.enable_buffering(size)
    try:
        for piece in pieces:
            if first.complete(piece):
                break
        yield first.text()
        # Resumed for the second piece: the headers (and the session) are out.
        watch.start()
        if relayed:
            pieces.disable_buffering()
        yield from pieces
    except jinja2.TemplateSyntaxError as exc:  # a dynamically named include
        raise syntax_error(exc) from exc
    finally:
        generator.close()
        close_all(closables)
        watch.check()


async def _agenerate(
    template: jinja2.Template,
    context: dict[str, Any],
    size: int,
    first: FirstPiece,
    closables: list[object],
    watch: AfterHeaders,
    relayed: bool,
) -> AsyncGenerator[str]:
    generator = template.generate_async(context)
    # Jinja2's TemplateStream is sync only; _abuffered is its async twin.
    pieces: AsyncGenerator[str, Any] = (
        _abuffered(generator, size) if size > 1 else generator
    )
    try:
        async for piece in pieces:
            if first.complete(piece):
                break
        yield first.text()
        watch.start()
        # After a yield, _abuffered holds nothing: read on past it.
        async for piece in generator if relayed else pieces:
            yield piece
    except jinja2.TemplateSyntaxError as exc:
        raise syntax_error(exc) from exc
    finally:
        await pieces.aclose()
        await generator.aclose()
        await aclose_all(closables)
        watch.check()


async def _abuffered(pieces: AsyncIterator[str], size: int) -> AsyncGenerator[str]:
    """``TemplateStream.enable_buffering(size)`` for ``generate_async``."""
    buffer: list[str] = []
    count = 0
    async for piece in pieces:
        buffer.append(piece)
        if piece:
            count += 1
            if count == size:
                yield "".join(buffer)
                buffer.clear()
                count = 0
    if count:
        yield "".join(buffer)


# -- helpers ---------------------------------------------------------------------


def _template_names(template_name: object) -> list[str]:
    names = [template_name] if isinstance(template_name, str) else template_name
    if not isinstance(names, list | tuple) or not all(
        isinstance(n, str) for n in names
    ):
        raise TypeError(
            "template_name must be a template name or a list of names, not "
            f"{template_name!r}."
        )
    if not names:
        raise TemplateDoesNotExist("No template names provided")
    return list(names)


def _buffer_size(value: object) -> int:
    if value is None:
        return conf.TEMPLATE_BUFFER_SIZE
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(
            f"buffer_size must be a positive number of template pieces, not "
            f"{value!r}; pass None to use the STREAMKIT_TEMPLATE_BUFFER_SIZE "
            "setting (1 turns buffering off)."
        )
    return value
