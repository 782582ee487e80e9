"""System checks. Ids are stable and listed in the README.

streamkit.E001  STREAMKIT_CHUNK_SIZE is not a positive integer.
streamkit.E002  STREAMKIT_MAX_LATENCY is not a non-negative number of seconds.
streamkit.E003  STREAMKIT_CSV_ESCAPE_FORMULAS is not a bool.
streamkit.E004  STREAMKIT_QUERYSET_CHUNK_SIZE is not a positive integer.
streamkit.E005  STREAMKIT_TEMPLATE_BUFFER_SIZE is not a positive integer.
streamkit.E006  STREAMKIT_CSV_DATETIME_FORMAT is not "local" or "iso".
streamkit.E007  STREAMKIT_EXPORT_BOM is not a bool.
streamkit.W001  Django's GZipMiddleware, before Django 6.1, holds streamed
                chunks back; use django_streamkit.middleware.GZipMiddleware.
streamkit.E040  A CSVExport's fields or labels name an unknown field.
streamkit.E041  A CSVExport's filter_fields name an unknown field or lookup.
streamkit.E042  Two CSVExports have the same slug.
streamkit.E043  A CSVExport's permission_required is not "app_label.codename"
                of an installed app.
streamkit.E044  django_streamkit.urls is mounted without django.contrib.auth,
                django.contrib.contenttypes or AuthenticationMiddleware,
                which the exports need.
streamkit.E045  A StreamingCSVExportMixin's csv_export_fields or
                csv_export_labels name an unknown field.
streamkit.W045  A StreamingCSVExportMixin exports only the primary key: no
                csv_export_fields, and list_display names no model field.
streamkit.E046  A URL routes to a TemplateStreamView, but TEMPLATES has no
                Jinja2 engine (or none by its template_engine alias).
streamkit.W047  RequestContextMiddleware comes after middleware of the project
                or of other packages, which then run outside the request
                scope (current_request raises there).
streamkit.E048  A URL routes to a CSVStreamView whose model, fields, labels or
                choices_as_labels are wrong (every request would fail).
streamkit.E049  Exports are registered (the URLs not mounted) without
                django.contrib.auth and django.contrib.contenttypes.
streamkit.W050  django_streamkit.urls is mounted and LOGIN_URL is no URL of
                the site: anonymous users go to the admin's login, or a 404.
streamkit.E051  A CSVExport's formats or a StreamingCSVExportMixin's
                export_formats name an unknown format (or none, or one twice).
streamkit.E060  STREAMKIT_SSE_PING is not a positive number of seconds.
streamkit.W065  A registered export's database has DISABLE_SERVER_SIDE_CURSORS
                (PgBouncer) and its QuerySet can't be read in keyset pages
                (grouped, distinct, sliced, a union, ordered at random, across
                a to-many relation or by an ordered relation), and COPY doesn't
                write its CSV: it is read whole into memory.
streamkit.E070-E072, W073, W074  Broadcast settings, Redis, tables, PgBouncer: see
                django_streamkit/_broadcast/checks.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import django
from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.urls import URLPattern, URLResolver
from django.utils.module_loading import import_string

from django_streamkit._events.checks import check_sse_settings
from django_streamkit._writers.datetimes import FORMATS
from django_streamkit.conf import DEFAULTS


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _non_negative_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and value >= 0
        and value == value  # not NaN
        and value != float("inf")
    )


_RULES: list[tuple[str, str, Callable[[object], bool], str]] = [
    ("CHUNK_SIZE", "streamkit.E001", _positive_int, "a positive integer (bytes)"),
    (
        "MAX_LATENCY",
        "streamkit.E002",
        _non_negative_number,
        "a finite, non-negative number of seconds",
    ),
    (
        "CSV_ESCAPE_FORMULAS",
        "streamkit.E003",
        lambda v: isinstance(v, bool),
        "True or False",
    ),
    ("QUERYSET_CHUNK_SIZE", "streamkit.E004", _positive_int, "a positive integer"),
    ("TEMPLATE_BUFFER_SIZE", "streamkit.E005", _positive_int, "a positive integer"),
    (
        "CSV_DATETIME_FORMAT",
        "streamkit.E006",
        lambda v: v in FORMATS,
        " or ".join(map(repr, FORMATS)),
    ),
    ("EXPORT_BOM", "streamkit.E007", lambda v: isinstance(v, bool), "True or False"),
]


def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for name, check_id, valid, expected in _RULES:
        setting = f"STREAMKIT_{name}"
        if not hasattr(settings, setting):
            continue
        value = getattr(settings, setting)
        if not valid(value):
            errors.append(
                checks.Error(
                    f"{setting} is {value!r}; it must be {expected}.",
                    hint=f"Set {setting} to {expected}, or remove it to use "
                    f"the default ({DEFAULTS[name]!r}).",
                    id=check_id,
                )
            )
    return errors


DJANGO_GZIP = "django.middleware.gzip.GZipMiddleware"


def check_gzip_middleware(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[checks.CheckMessage]:
    # Django ticket #36293: before 6.1, compress_sequence() never flushes, so
    # a streamed body's bytes wait in zlib's buffer until it fills.
    if django.VERSION >= (6, 1) or DJANGO_GZIP not in settings.MIDDLEWARE:
        return []
    return [
        checks.Warning(
            f"{DJANGO_GZIP} holds streamed chunks back until its compressor's "
            f"buffer fills on Django {django.get_version()} (fixed in Django 6.1), "
            "so streamed responses lose their early first bytes.",
            hint=f"Replace {DJANGO_GZIP!r} in MIDDLEWARE with "
            "'django_streamkit.middleware.GZipMiddleware', a drop-in subclass "
            "that flushes every chunk.",
            id="streamkit.W001",
        )
    ]


def check_exports(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[checks.CheckMessage]:
    from django_streamkit._exports.checks import check_registry

    return check_registry()


def check_exports_urls(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[checks.CheckMessage]:
    from django_streamkit._exports.checks import (
        check_auth_for_urls,
        check_login_for_urls,
    )

    return check_auth_for_urls() or check_login_for_urls()


def check_template_views(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[checks.CheckMessage]:
    from django.template import engines
    from django.urls import get_resolver

    from django_streamkit._templating.context import is_jinja2
    from django_streamkit.views import TemplateStreamView

    try:
        routed = set(_view_classes(get_resolver().url_patterns))
        jinja = [engine.name for engine in engines.all() if is_jinja2(engine)]
    except Exception:  # Django's own URL and template checks report these
        return []
    views = sorted(
        (v for v in routed if issubclass(v, TemplateStreamView)),
        key=lambda v: f"{v.__module__}.{v.__qualname__}",
    )
    errors: list[checks.CheckMessage] = []
    for view in views:
        name = f"{view.__module__}.{view.__qualname__}"
        alias = view.template_engine
        if alias is None and not jinja:
            problem = "TEMPLATES has no Jinja2 engine"
            hint = (
                "Add {'BACKEND': 'django.template.backends.jinja2.Jinja2', "
                "'APP_DIRS': True} to TEMPLATES (templates go in <app>/jinja2/)."
            )
        elif alias is not None and alias not in jinja:
            problem = f"its template_engine {alias!r} is no Jinja2 engine in TEMPLATES"
            hint = f"Set template_engine to one of {jinja} (or None for any)."
        else:
            continue
        errors.append(
            checks.Error(
                f"A URL routes to {name}, which streams a Jinja2 template, but "
                f"{problem}: every request to it would fail.",
                hint=hint,
                obj=view,
                id="streamkit.E046",
            )
        )
    return errors


def check_csv_views(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[checks.CheckMessage]:
    from django.urls import get_resolver

    from django_streamkit._exports.checks import check_csv_view
    from django_streamkit.views import CSVStreamView

    try:
        routed = list(_routed_views(get_resolver().url_patterns))
    except Exception:  # Django's own URL checks report these
        return []
    errors: list[checks.CheckMessage] = []
    seen: set[tuple[type, tuple[tuple[str, int], ...]]] = set()
    for view, initkwargs in routed:
        key = (view, tuple((k, id(v)) for k, v in sorted(initkwargs.items())))
        if issubclass(view, CSVStreamView) and key not in seen:
            seen.add(key)
            errors += check_csv_view(view, initkwargs)
    return errors


def _view_classes(patterns: Sequence[URLPattern | URLResolver]) -> Iterator[type]:
    for view_class, _ in _routed_views(patterns):
        yield view_class


def _routed_views(
    patterns: Sequence[URLPattern | URLResolver],
) -> Iterator[tuple[type, dict[str, object]]]:
    """Each class-based view the URLconf routes to, with its as_view() kwargs."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routed_views(pattern.url_patterns)
        else:
            view_class = getattr(pattern.callback, "view_class", None)
            if isinstance(view_class, type):
                initkwargs = getattr(pattern.callback, "view_initkwargs", None)
                yield view_class, dict(initkwargs or {})


REQUEST_CONTEXT = "django_streamkit.middleware.RequestContextMiddleware"


def check_request_context_middleware(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[checks.CheckMessage]:
    from django_streamkit.middleware import RequestContextMiddleware

    middleware = list(settings.MIDDLEWARE)
    position = next(
        (
            i
            for i, path in enumerate(middleware)
            if _is_subclass(path, RequestContextMiddleware)
        ),
        None,
    )
    if position is None:
        return []
    # Django's own middleware never reads current_request; anything else
    # (a request-id or audit middleware, say) may, and cannot before it.
    before = [
        path
        for path in middleware[:position]
        if not path.startswith(("django.", "django_streamkit."))
    ]
    if not before:
        return []
    return [
        checks.Warning(
            f"{middleware[position]} comes after {', '.join(before)} in "
            "MIDDLEWARE, so they run outside the request scope: there "
            "current_request raises RuntimeError and get_current_request() "
            "returns None.",
            hint=f"Move {middleware[position]!r} above them (first in MIDDLEWARE "
            "is safest), or silence streamkit.W047 if they never use the "
            "request scope.",
            id="streamkit.W047",
        )
    ]


def _is_subclass(path: str, cls: type) -> bool:
    if path == REQUEST_CONTEXT:
        return True
    try:
        imported = import_string(path)
    except ImportError:
        return False  # Django reports middleware it cannot import
    return isinstance(imported, type) and issubclass(imported, cls)


def check_keyset_pages(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[checks.CheckMessage]:
    from django_streamkit._servers.checks import check_keyset_pages

    return check_keyset_pages()


def check_broadcast(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[checks.CheckMessage]:
    from django_streamkit._broadcast.checks import check_broadcast as check

    return check(app_configs, **kwargs)


def register() -> None:
    checks.register(check_settings)
    checks.register(check_gzip_middleware)
    checks.register(check_exports)
    checks.register(check_exports_urls, checks.Tags.urls)
    checks.register(check_template_views, checks.Tags.urls, checks.Tags.templates)
    checks.register(check_csv_views, checks.Tags.urls, checks.Tags.models)
    checks.register(check_request_context_middleware)
    checks.register(check_sse_settings)
    checks.register(check_keyset_pages, checks.Tags.models)
    checks.register(check_broadcast)
