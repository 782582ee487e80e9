"""The formats an export or an admin changelist can be downloaded in.

Each format is a streaming view with :class:`~django_streamkit.views.CSVStreamView`'s
hooks (``get_queryset()``, ``get_columns()``, ``get_rows()``,
``get_filename()`` and the attributes ``model``/``queryset``, ``fields``,
``labels``, ``choices_as_labels``, ``filename``), so an export hands every
format the same columns, and the admin's display-value columns
(:mod:`django_streamkit._exports.display`) work in each. Options only some
formats have (a CSV's ``bom``, ``escape_formulas``, ``verbatim_fields``) go to
the views that have them.

To add a built-in format, add its view to :data:`FORMATS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.module_loading import import_string

__all__ = [
    "FORMATS",
    "ExportFormat",
    "filename_for",
    "get_format",
    "view_response",
]


@dataclass(frozen=True)
class ExportFormat:
    """One download format: its URL suffix and extension ``name`` (``"csv"``),
    the ``label`` on buttons ("CSV") and its streaming ``view`` (a dotted
    path, imported when first used, so an optional extra is only needed by
    the exports that offer its format)."""

    name: str
    label: str
    view: str

    def view_class(self) -> type[Any]:
        return import_string(self.view)  # type: ignore[no-any-return]


FORMATS: dict[str, ExportFormat] = {
    "csv": ExportFormat("csv", "CSV", "django_streamkit.views.CSVStreamView"),
    "json": ExportFormat(
        "json", "JSON", "django_streamkit._json.view.JSONDownloadView"
    ),
    "ndjson": ExportFormat(
        "ndjson", "JSON Lines", "django_streamkit._json.view.NDJSONDownloadView"
    ),
    "xlsx": ExportFormat("xlsx", "XLSX", "django_streamkit.views.XLSXStreamView"),
}


def get_format(name: object, owner: str) -> ExportFormat:
    """The format called ``name``; ``ImproperlyConfigured`` naming the choices."""
    if isinstance(name, str) and name in FORMATS:
        return FORMATS[name]
    raise ImproperlyConfigured(
        f"{owner} names the format {name!r}; choose from {sorted(FORMATS)}."
    )


def check_formats(formats: object, owner: str) -> list[ExportFormat]:
    """``formats`` (a sequence of names, at least one) as formats."""
    if isinstance(formats, str) or not isinstance(formats, Sequence) or not formats:
        raise ImproperlyConfigured(
            f"{owner} is {formats!r}; it is a tuple of format names, e.g. "
            f"('csv', 'xlsx'), from {sorted(FORMATS)}."
        )
    found = [get_format(name, owner) for name in formats]
    if len({f.name for f in found}) != len(found):
        raise ImproperlyConfigured(f"{owner} names a format twice: {formats!r}.")
    return found


def filename_for(filename: str | None, fmt: ExportFormat) -> str | None:
    """``filename`` with ``fmt``'s extension: ``orders.csv`` is ``orders.xlsx``
    in XLSX; a name with no known extension gets one added."""
    if filename is None:
        return None
    stem, dot, extension = filename.rpartition(".")
    if dot and extension.lower() in FORMATS:
        filename = stem
    return f"{filename}.{fmt.name}"


def view_response(
    view_class: type[Any], request: HttpRequest, **initkwargs: object
) -> HttpResponseBase:
    """The response of a configured format view, whatever the request's method.

    Called directly rather than through ``as_view()``, so an admin action
    (a POST) and the export views reuse the view's column machinery.
    Options the view has no attribute for are not passed: a CSV's ``bom``
    means nothing to a spreadsheet.
    """
    view = view_class(
        **{key: value for key, value in initkwargs.items() if hasattr(view_class, key)}
    )
    view.setup(request)
    response: HttpResponseBase = view.get(request)
    return response


def urls_of(
    formats: Sequence[ExportFormat], url: Mapping[str, str]
) -> list[dict[str, str]]:
    """The index's and the admin's download links: a label and a URL each."""
    return [{"name": f.name, "label": f.label, "url": url[f.name]} for f in formats]
