"""Django's Jinja2 engines, adapted for streaming: the glue under templating.py.

Finding the engine and the template, building the context as Django's Jinja2
backend does, and what must happen before the headers go out (the first
piece, compiling includes, the CSRF token) or be watched after them.
"""

from __future__ import annotations

import logging
import sys
import weakref
from collections.abc import Mapping
from typing import Any

import jinja2
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template import TemplateSyntaxError, engines
from django.template.backends.base import BaseEngine
from django.template.backends.jinja2 import get_exception_info
from django.template.backends.utils import csrf_input
from django.template.utils import InvalidTemplateEngineError
from jinja2 import meta

from django_streamkit._templating.lazy import Started

logger = logging.getLogger("django_streamkit")


class FirstPiece:
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


def is_jinja2(engine: BaseEngine) -> bool:
    return isinstance(getattr(engine, "env", None), jinja2.Environment)


def jinja2_template(template: object) -> jinja2.Template:
    # Django's Jinja2 backend (and django-jinja's) wraps the jinja2.Template.
    inner: jinja2.Template = template.template  # type: ignore[attr-defined]
    return inner


def environment(engine: BaseEngine) -> jinja2.Environment:
    env: jinja2.Environment = engine.env  # type: ignore[attr-defined]
    return env


def jinja2_engines(using: str | None) -> list[BaseEngine]:
    everything = engines.all()
    jinja = [engine for engine in everything if is_jinja2(engine)]
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
            if not is_jinja2(engine):
                raise InvalidTemplateEngineError(
                    f"using={using!r} is a {type(engine).__name__} engine; "
                    f"streamed templates need a Jinja2 engine: {choices}."
                )
            return [engine]
    raise InvalidTemplateEngineError(
        f"using={using!r} is not a template engine in TEMPLATES; the Jinja2 "
        f"engines are: {choices}."
    )


def build_context(
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


def send_rendered_signal(template: jinja2.Template, context: dict[str, Any]) -> None:
    # django.test.signals is only imported where something listens (the test
    # client, assertTemplateUsed), so production pays nothing for this.
    signals = sys.modules.get("django.test.signals")
    if signals is not None:
        signals.template_rendered.send(
            sender=template, template=template, context=dict(context)
        )


def syntax_error(exc: jinja2.TemplateSyntaxError) -> TemplateSyntaxError:
    # As Django's Jinja2 backend does, so the debug page shows the template.
    new = TemplateSyntaxError(exc.args)
    new.template_debug = get_exception_info(exc)  # type: ignore[arg-type, attr-defined]
    return new


# Templates whose includes, imports and parents are known to compile.
_loaded: weakref.WeakSet[jinja2.Template] = weakref.WeakSet()


def load_references(template: jinja2.Template) -> None:
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
        raise syntax_error(exc) from exc
    _loaded.update(checked)


class AfterHeaders:
    """Warn about what a template does to the request after the headers.

    ``SessionMiddleware`` saves the session and ``MessageMiddleware`` drops
    the messages shown when the view returns, before a streamed body is
    rendered: a session change made later is lost, and messages first shown
    later are shown again on the next page. Neither can be fixed once the
    headers are out, so it is said on the ``django_streamkit`` logger.
    """

    __slots__ = ("_before", "_messages", "_modified", "_session", "_template", "_used")

    def __init__(self, request: HttpRequest | None, template: jinja2.Template) -> None:
        self._session = getattr(request, "session", None)
        self._messages = getattr(request, "_messages", None)
        self._template = template
        self._before: dict[str, Any] | None = None
        self._modified = False
        self._used: bool | None = None

    def start(self) -> None:
        if self._session is not None:
            self._modified = self._session.modified
            self._before = dict(getattr(self._session, "_session_cache", {}))
        self._used = getattr(self._messages, "used", None)

    def check(self) -> None:
        name = self._template.name or "<string>"
        if self._session_changed():
            logger.warning(
                "Template %r changed request.session while its response was "
                "streaming, after SessionMiddleware had saved the session and "
                "sent the headers: the change is NOT saved. Change the session "
                "in the view, before returning the response.",
                name,
            )
        if self._used is False and getattr(self._messages, "used", False):
            logger.warning(
                "Template %r showed messages while its response was streaming, "
                "after MessageMiddleware had stored them: they will be shown "
                "again on the next page. Show messages near the top of the page, "
                "before the first row, or iterate them in the view.",
                name,
            )

    def _session_changed(self) -> bool:
        session = self._session
        if session is None or self._before is None or not session.modified:
            return False
        now = dict(getattr(session, "_session_cache", {}))
        return not self._modified or now != self._before
