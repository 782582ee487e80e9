"""The core behind :func:`~django_streamkit.templating.stream_template` and
its twins: find the template, build its context, and render it in pieces,
with Jinja2's ``generate`` (sync) or ``generate_async``.

Both drivers share one :class:`Page`: the first piece (rendered in the
view), the watch on what the template touches after the headers, and the
clean-up of lazy values.
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Generator,
    Iterator,
    Mapping,
)
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

import jinja2
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest
from django.template import TemplateDoesNotExist
from django.template.backends.base import BaseEngine
from jinja2.environment import TemplateStream

from django_streamkit._core.bridge import AsyncDriver, in_event_loop
from django_streamkit._templating.context import (
    AfterHeaders,
    FirstPiece,
    build_context,
    jinja2_engines,
    jinja2_template,
    load_references,
    send_rendered_signal,
    syntax_error,
)
from django_streamkit._templating.lazy import aclose_all, close_all, lazy_values
from django_streamkit.conf import conf

TextStream: TypeAlias = Iterator[str] | AsyncIterator[str]
Select: TypeAlias = Callable[[list[BaseEngine]], tuple[BaseEngine, jinja2.Template]]


def by_name(names: list[str]) -> Select:
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


def stream_with_engine(
    engine: BaseEngine,
    request: HttpRequest | None,
    template_name: str,
    context: Mapping[str, Any] | None = None,
) -> TextStream:
    """``stream_template()`` on an engine that is not in ``TEMPLATES``.

    For templates shipped with the app (the export index) that must render
    whether or not the project configured a Jinja2 engine.
    """
    select = by_name([template_name])
    return render(request, select, context, using=None, buffer_size=None, on=[engine])


def render(
    request: HttpRequest | None,
    select: Select,
    context: Mapping[str, Any] | None,
    *,
    using: str | None,
    buffer_size: int | None,
    on: list[BaseEngine] | None = None,
    relayed: bool = False,
) -> TextStream:
    """The pieces of the selected template. ``relayed``: for a streaming
    response, whose relay joins pieces into chunks itself and lets none wait
    longer than ``STREAMKIT_MAX_LATENCY``; Jinja2's buffering, which would
    hold up to ``buffer_size`` pieces while the context's source blocks, then
    ends with the first piece."""
    size = check_buffer_size(buffer_size)
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
    page = Page(
        FirstPiece(started, conf.CHUNK_SIZE),
        AfterHeaders(request, template),
        closables,
        relayed=relayed,
    )
    if not is_async:
        return _generate(template, values, size, page)
    pieces = _agenerate(template, values, size, page)
    if isinstance(request, ASGIRequest) and in_event_loop():
        # An async view under ASGI: the response is iterated on this loop.
        return pieces
    # Elsewhere, step the async template one piece at a time on one private
    # loop, as a sync source that the response can prime in the view.
    return AsyncDriver(pieces, pieces.aclose)


@dataclass(slots=True)
class Page:
    """What both drivers share while one template renders."""

    first: FirstPiece
    watch: AfterHeaders
    closables: list[object]
    relayed: bool

    def resumed(self) -> None:
        """Resumed for the second piece: the headers (and the session) are
        out, so watch what the template touches from now on."""
        self.watch.start()

    def ended(self) -> None:
        close_all(self.closables)
        self.watch.check()

    async def aended(self) -> None:
        await aclose_all(self.closables)
        self.watch.check()


def _generate(
    template: jinja2.Template, context: dict[str, Any], size: int, page: Page
) -> Iterator[str]:
    generator = cast("Generator[str]", template.generate(context))
    pieces = TemplateStream(generator)
    if size > 1:
        pieces.enable_buffering(size)
    try:
        for piece in pieces:
            if page.first.complete(piece):
                break
        yield page.first.text()
        page.resumed()
        if page.relayed:
            pieces.disable_buffering()
        yield from pieces
    except jinja2.TemplateSyntaxError as exc:  # a dynamically named include
        raise syntax_error(exc) from exc
    finally:
        generator.close()
        page.ended()


async def _agenerate(
    template: jinja2.Template, context: dict[str, Any], size: int, page: Page
) -> AsyncGenerator[str]:
    generator = template.generate_async(context)
    # Jinja2's TemplateStream is sync only; _abuffered is its async twin.
    pieces: AsyncGenerator[str, Any] = (
        _abuffered(generator, size) if size > 1 else generator
    )
    try:
        async for piece in pieces:
            if page.first.complete(piece):
                break
        yield page.first.text()
        page.resumed()
        # After a yield, _abuffered holds nothing: read on past it.
        async for piece in generator if page.relayed else pieces:
            yield piece
    except jinja2.TemplateSyntaxError as exc:
        raise syntax_error(exc) from exc
    finally:
        await pieces.aclose()
        await generator.aclose()
        await page.aended()


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


def template_names(template_name: object) -> list[str]:
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


def check_buffer_size(value: object) -> int:
    if value is None:
        return conf.TEMPLATE_BUFFER_SIZE
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(
            f"buffer_size must be a positive number of template pieces, not "
            f"{value!r}; pass None to use the STREAMKIT_TEMPLATE_BUFFER_SIZE "
            "setting (1 turns buffering off)."
        )
    return value
