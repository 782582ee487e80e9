"""The PgBouncer check (id in :mod:`django_streamkit.checks`): a registered
export whose QuerySet would be read whole into memory, because its database
can't stream from a cursor and the QuerySet can't be read in keyset pages."""

from __future__ import annotations

from collections.abc import Sequence

from django.apps import AppConfig
from django.core import checks

from django_streamkit._db import keyset
from django_streamkit.exports import registry


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
        if reason is None:
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
