"""Streamed Jinja2 templates from the project's ``TEMPLATES``.

Flask's pattern (``template.stream(context)`` with ``enable_buffering(5)``),
with the template and its context coming from Django's Jinja2 engine, and the
response built on :class:`~django_streamkit.responses.StreamingResponse`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import weakref
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
from django.middleware.csrf import get_token
from django.template import TemplateDoesNotExist, TemplateSyntaxError, engines
from django.template.backends.base import BaseEngine
from django.template.backends.jinja2 import get_exception_info
from django.template.backends.utils import csrf_input
from django.template.utils import InvalidTemplateEngineError
from jinja2 import meta
from jinja2.environment import TemplateStream

from django_streamkit._iter import AsyncDriver
from django_streamkit._lazy import Started, aclose_all, close_all, lazy_values
from django_streamkit.conf import conf
from django_streamkit.responses import StreamingResponse

logger = logging.getLogger("django_streamkit")

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
    names = _template_names(template_name)

    def select(candidates: list[BaseEngine]) -> tuple[BaseEngine, jinja2.Template]:
        # Name by name, engine by engine, as django.template.loader does.
        tried: list[TemplateDoesNotExist] = []
        for name in names:
            for engine in candidates:
                try:
                    return engine, _jinja2_template(engine.get_template(name))
                except TemplateDoesNotExist as exc:
                    tried.append(exc)
        raise TemplateDoesNotExist(", ".join(names), chain=tried)

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
            return engine, _environment(engine).from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise _syntax_error(exc) from exc

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
        pieces = stream_template(
            request, template_name, context, using=using, buffer_size=buffer_size
        )
        super().__init__(
            pieces,
            content_type=content_type,
            status=200 if status is None else status,
            headers=headers,
        )


# -- the private core behind both entry points ---------------------------------


def _stream(
    request: HttpRequest | None,
    select: Callable[[list[BaseEngine]], tuple[BaseEngine, jinja2.Template]],
    context: Mapping[str, Any] | None,
    *,
    using: str | None,
    buffer_size: int | None,
) -> TextStream:
    size = _buffer_size(buffer_size)
    if context is not None and not isinstance(context, Mapping):
        raise TypeError(
            f"context must be a dict (or another mapping), not {context!r} "
            f"({type(context).__name__})."
        )
    engine, template = select(_jinja2_engines(using))
    _load_references(template)
    values = _context(request, engine, context)
    _send_rendered_signal(template, values)

    is_async = template.environment.is_async
    closables, started = lazy_values(
        values, is_async=is_async, chunk_size=conf.QUERYSET_CHUNK_SIZE
    )
    first = _FirstPiece(started, conf.CHUNK_SIZE)
    watch = _SessionWatch(request, template)
    if not is_async:
        return _generate(template, values, size, first, closables, watch)
    pieces = _agenerate(template, values, size, first, closables, watch)
    if isinstance(request, ASGIRequest) and _in_event_loop():
        # An async view under ASGI: the response is iterated on this loop.
        return pieces
    # Elsewhere, step the async template one piece at a time on one private
    # loop, as a sync source that the response can prime in the view.
    return AsyncDriver(pieces, pieces.aclose)


def _generate(
    template: jinja2.Template,
    context: dict[str, Any],
    size: int,
    first: _FirstPiece,
    closables: list[object],
    watch: _SessionWatch,
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
        yield from pieces
    except jinja2.TemplateSyntaxError as exc:  # from an {% include %}, say
        raise _syntax_error(exc) from exc
    finally:
        generator.close()
        close_all(closables)
        watch.check()


async def _agenerate(
    template: jinja2.Template,
    context: dict[str, Any],
    size: int,
    first: _FirstPiece,
    closables: list[object],
    watch: _SessionWatch,
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
        async for piece in pieces:
            yield piece
    except jinja2.TemplateSyntaxError as exc:
        raise _syntax_error(exc) from exc
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


class _FirstPiece:
    """How much of the page the view renders before the response is returned.

    Without lazy values in the context, the first non-empty piece, as Flask
    sends it. With a generator, async generator or QuerySet, the pieces up to
    the one in which the template starts reading it, so its first row (its
    query, its first exception) is rendered before the headers go out; at
    most about ``limit`` characters.
    """

    __slots__ = ("_limit", "_pieces", "_size", "_started")

    def __init__(self, started: Started, limit: int) -> None:
        self._started = started
        self._limit = limit
        self._pieces: list[str] = []
        self._size = 0

    def complete(self, piece: str) -> bool:
        self._pieces.append(piece)
        if not piece:
            return False
        self._size += len(piece)
        started = self._started
        return not started.watched or started.value or self._size >= self._limit

    def text(self) -> str:
        text = "".join(self._pieces)
        self._pieces.clear()
        return text


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


def _is_jinja2(engine: BaseEngine) -> bool:
    return isinstance(getattr(engine, "env", None), jinja2.Environment)


def _jinja2_template(template: object) -> jinja2.Template:
    # Django's Jinja2 backend (and django-jinja's) wraps the jinja2.Template.
    inner: jinja2.Template = template.template  # type: ignore[attr-defined]
    return inner


def _environment(engine: BaseEngine) -> jinja2.Environment:
    env: jinja2.Environment = engine.env  # type: ignore[attr-defined]
    return env


def _jinja2_engines(using: str | None) -> list[BaseEngine]:
    everything = engines.all()
    jinja = [engine for engine in everything if _is_jinja2(engine)]
    choices = ", ".join(repr(engine.name) for engine in jinja) or "none"
    if using is None:
        if not jinja:
            raise InvalidTemplateEngineError(
                "Streamed templates need a Jinja2 engine in TEMPLATES; add "
                "{'BACKEND': 'django.template.backends.jinja2.Jinja2', "
                "'APP_DIRS': True} (templates go in <app>/jinja2/)."
            )
        return jinja
    for engine in everything:
        if engine.name == using:
            if not _is_jinja2(engine):
                raise InvalidTemplateEngineError(
                    f"using={using!r} is a {type(engine).__name__} engine; "
                    f"streamed templates need a Jinja2 engine: {choices}."
                )
            return [engine]
    raise InvalidTemplateEngineError(
        f"using={using!r} is not a template engine in TEMPLATES; the Jinja2 "
        f"engines are: {choices}."
    )


def _context(
    request: HttpRequest | None,
    engine: BaseEngine,
    context: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Django's Jinja2 context, except that the view's own values win."""
    values: dict[str, Any] = {}
    if request is not None:
        values["request"] = request
        # Made now, not lazily while streaming: CsrfViewMiddleware sets the
        # cookie (and Vary: Cookie) only for a token made before the headers.
        values["csrf_token"] = get_token(request)
        values["csrf_input"] = csrf_input(request)
        for processor in getattr(engine, "template_context_processors", ()):
            values.update(processor(request))
    if context:
        values.update(context)
    return values


def _send_rendered_signal(template: jinja2.Template, context: dict[str, Any]) -> None:
    # django.test.signals is only imported where something listens (the test
    # client, assertTemplateUsed), so production pays nothing for this.
    signals = sys.modules.get("django.test.signals")
    if signals is not None:
        signals.template_rendered.send(
            sender=template, template=template, context=dict(context)
        )


def _syntax_error(exc: jinja2.TemplateSyntaxError) -> TemplateSyntaxError:
    # As Django's Jinja2 backend does, so the debug page shows the template.
    new = TemplateSyntaxError(exc.args)
    new.template_debug = get_exception_info(exc)  # type: ignore[arg-type, attr-defined]
    return new


# Templates whose includes, imports and parents are known to compile.
_loaded: weakref.WeakSet[jinja2.Template] = weakref.WeakSet()


def _load_references(template: jinja2.Template) -> None:
    """Compile what ``template`` includes, imports or extends, now.

    Jinja2 loads those when rendering reaches them; in a streamed body that
    is after the headers, so a syntax error there would abort the page
    instead of raising from the view. Done once per compiled template.
    """
    if template in _loaded:
        return
    env = template.environment
    pending, seen = [template], {id(template)}
    checked: list[jinja2.Template] = []
    try:
        while pending:
            current = pending.pop()
            checked.append(current)
            if current.name is None or env.loader is None:
                continue  # from_string: nothing to read the source from
            try:
                source = env.loader.get_source(env, current.name)[0]
            except jinja2.TemplateNotFound:
                continue
            for name in meta.find_referenced_templates(env.parse(source)):
                if name is None:
                    continue  # a dynamic name: only known while rendering
                try:
                    child = env.get_template(name, parent=current.name)
                except jinja2.TemplateNotFound:
                    continue  # maybe "ignore missing"; rendering will tell
                if id(child) not in seen and child not in _loaded:
                    seen.add(id(child))
                    pending.append(child)
    except jinja2.TemplateSyntaxError as exc:
        raise _syntax_error(exc) from exc
    _loaded.update(checked)


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _SessionWatch:
    """Warn when a template changes the session after the headers went out.

    ``SessionMiddleware`` saves the session (and sets its cookie) when the
    view returns, before a streamed body is rendered, so a later change would
    be lost without a word. This cannot save it; it says so, on the
    ``django_streamkit`` logger.
    """

    __slots__ = ("_before", "_modified", "_session", "_template")

    def __init__(self, request: HttpRequest | None, template: jinja2.Template) -> None:
        self._session = getattr(request, "session", None)
        self._template = template
        self._before: dict[str, Any] | None = None
        self._modified = False

    def start(self) -> None:
        if self._session is not None:
            self._modified = self._session.modified
            self._before = dict(getattr(self._session, "_session_cache", {}))

    def check(self) -> None:
        session = self._session
        if session is None or self._before is None or not session.modified:
            return
        now = dict(getattr(session, "_session_cache", {}))
        if self._modified and now == self._before:
            return
        logger.warning(
            "Template %r changed request.session while its response was "
            "streaming, after SessionMiddleware had saved the session and sent "
            "the headers: the change is NOT saved. Change the session in the "
            "view, before returning the response.",
            self._template.name or "<string>",
        )
