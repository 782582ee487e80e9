"""The PgBouncer check (id in :mod:`django_streamkit.checks`): a registered
export whose QuerySet would be read whole into memory, because its database
can't stream from a cursor and the QuerySet can't be read in keyset pages.

An export whose every format PostgreSQL writes through ``COPY`` is left out:
COPY is one statement, which streams through PgBouncer without pages. Whether
COPY takes it depends on its columns' types, so that is asked of the
database (one ``LIMIT 0`` query); where it can't be asked, it warns.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.apps import AppConfig
from django.core import checks
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from django_streamkit._db import keyset
from django_streamkit._db.copy import CopyFeed
from django_streamkit.exports import CSVExport, registry


def check_keyset_pages(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[checks.CheckMessage]:
    warnings: list[checks.CheckMessage] = []
    for export in registry:
        queryset = (
            export.queryset
            if export.queryset is not None
            else export.get_model()._default_manager.all()
        )
        if not keyset.needs_pages(queryset):
            continue
        reason = keyset.unpageable(queryset)
        if reason is None or _written_by_copy(export, queryset):
            continue
        name = f"{type(export).__module__}.{type(export).__qualname__}"
        warnings.append(
            checks.Warning(
                f"{name} streams from database {queryset.db!r}, which has "
                f"DISABLE_SERVER_SIDE_CURSORS, and its QuerySet can't be read "
                f"in keyset pages because {reason}: every export reads all "
                f"its rows into memory first.",
                hint="Order it by unique columns (the primary key last), drop "
                "the distinct()/slice/aggregate, or stream it from a database "
                "alias that connects without PgBouncer's transaction pooling.",
                obj=type(export),
                id="streamkit.W065",
            )
        )
    return warnings


def _written_by_copy(export: CSVExport, queryset: QuerySet[Model, object]) -> bool:
    from django_streamkit.csv import _feed

    formats = export.get_formats()
    if [fmt.name for fmt in formats] != ["csv"]:
        return False
    try:
        kwargs = export.get_view_kwargs(HttpRequest())
        view = export.get_view_class(formats[0])(queryset=queryset, **kwargs)
        view.object_list = view.get_queryset()
        view.columns = view.get_columns()
        options = view.get_response_kwargs()
        feed = _feed(view.get_rows(), options)
    except Exception:  # a hook that needs a real request; no database
        return False
    feed.close()
    return isinstance(feed, CopyFeed)
