"""Streamed exports in Django's admin: :class:`StreamingCSVExportMixin`."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import PAGE_VAR
from django.core import checks
from django.core.exceptions import (
    ImproperlyConfigured,
    PermissionDenied,
    ValidationError,
)
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.template.loader import select_template
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from django_streamkit._db.columns import expand_fields, resolve_columns, resolve_field
from django_streamkit._exports.display import (
    display_columns,
    display_name,
    display_view,
)
from django_streamkit._exports.filters import compile_query
from django_streamkit._exports.formats import (
    ExportFormat,
    check_formats,
    filename_for,
    get_format,
    view_response,
)
from django_streamkit.exports import export_bom
from django_streamkit.views import CSVStreamView

__all__ = ["StreamingCSVExportMixin"]

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Any]
else:
    _ModelAdmin = object


class StreamingCSVExportMixin(_ModelAdmin):
    """Stream a ModelAdmin's rows as CSV, for users who may view them.

    Adds an ``export_as_csv`` action for the selected rows and an "Export CSV"
    button on the changelist that streams ``<changelist>/export.csv``: every
    row of the changelist as the user filtered, searched and ordered it.
    By default the columns are what the changelist shows: ``list_display``,
    titled as its headers, with choice labels, foreign keys as ``str()`` and
    the admin's ``@admin.display`` methods, read in chunks without a query per
    row. ``csv_export_fields`` (or ``csv_export_raw = True`` for
    ``list_display``'s model fields) exports stored values instead, read
    with ``values_list().iterator()``. Either way memory stays flat.

    ``export_formats`` (default ``("csv",)``) adds a button and an action per
    format, ``("csv", "xlsx")`` say, each with the same columns; the
    ``csv_export_*`` options apply to every format that has them.

    Put it before ``admin.ModelAdmin``::

        @admin.register(Order)
        class OrderAdmin(StreamingCSVExportMixin, admin.ModelAdmin):
            list_display = ["id", "customer", "status", "total"]
    """

    csv_export_fields: Sequence[str] | str | None = None
    #: Export list_display's model fields as stored values, not as shown.
    csv_export_raw: bool = False
    csv_export_labels: Mapping[str, str] = {}
    csv_export_filename: str | None = None
    #: A UTF-8 byte order mark first; None follows STREAMKIT_EXPORT_BOM (on).
    csv_export_bom: bool | None = None
    #: False writes "+44 20..." as it is; None is the view's (the setting).
    csv_export_escape_formulas: bool | None = None
    #: Columns (``list_display`` entries, or ``csv_export_fields``) written as
    #: they are even with escaping on, such as a phone number.
    csv_export_verbatim: Collection[str] = ()
    csv_export_view_class: type[CSVStreamView] = CSVStreamView
    #: The downloads offered: a button and an action each.
    export_formats: Sequence[str] = ("csv",)
    # Extends the template Django would have used (see changelist_view()).
    change_list_template = "admin/streamkit/change_list.html"

    def __init__(self, model: type[Model], admin_site: admin.AdminSite) -> None:
        super().__init__(model, admin_site)
        # Added to the admin's own list, so Django's action machinery (the
        # view permission, popups, "actions = None") decides where it shows.
        actions = self.actions
        if actions is not None:
            names = {a if isinstance(a, str) else a.__name__ for a in actions}
            added: list[Any] = []
            for fmt in self._export_formats():
                name = f"export_as_{fmt.name}"
                if name not in names:
                    added.append(name if fmt.name == "csv" else _export_action(fmt))
            self.actions = [*actions, *added]

    # -- hooks ------------------------------------------------------------

    def csv_export_is_raw(self) -> bool:
        """Whether the export writes stored values (``csv_export_fields``)
        rather than what the changelist shows."""
        return (
            self.csv_export_raw
            or self.csv_export_fields is not None
            or type(self).get_csv_export_fields
            is not StreamingCSVExportMixin.get_csv_export_fields
        )

    def get_csv_export_fields(self, request: HttpRequest) -> Sequence[str] | str:
        """The raw export's columns; by default ``list_display``'s model
        fields and lookups."""
        if self.csv_export_fields is not None:
            return self.csv_export_fields
        return self._list_display_fields(self.get_list_display(request))

    def _list_display_fields(self, list_display: Sequence[object]) -> list[str]:
        queryset = self.model._default_manager.all()
        names = [
            name
            for name in list_display
            if isinstance(name, str) and _is_field(queryset, name)
        ]
        return names or [self.opts.pk.name]

    def get_csv_export_filename(self, request: HttpRequest) -> str | None:
        return self.csv_export_filename

    def _export_formats(self) -> list[ExportFormat]:
        try:
            return check_formats(
                self.export_formats, f"{type(self).__name__}.export_formats"
            )
        except ImproperlyConfigured:
            return []  # reported by the checks (streamkit.E051)

    def get_export_view_class(self, fmt: ExportFormat) -> type[Any]:
        """The streaming view writing ``fmt``: ``csv_export_view_class`` for CSV."""
        return self.csv_export_view_class if fmt.name == "csv" else fmt.view_class()

    def csv_export_response(
        self, request: HttpRequest, queryset: QuerySet[Model, object]
    ) -> HttpResponseBase:
        """Stream ``queryset`` as this admin's CSV export."""
        return self.export_response(request, queryset, "csv")

    def export_response(
        self, request: HttpRequest, queryset: QuerySet[Model, object], format: str
    ) -> HttpResponseBase:
        """Stream ``queryset`` as this admin's export in ``format``."""
        fmt = get_format(format, f"{type(self).__name__}.export_response()")
        view_class = self.get_export_view_class(fmt)
        filename = self.get_csv_export_filename(request)
        if fmt.name != "csv":
            filename = filename_for(filename, fmt)
        options: dict[str, object] = {
            "bom": export_bom(self.csv_export_bom, self.csv_export_view_class)
        }
        if self.csv_export_escape_formulas is not None:
            options["escape_formulas"] = self.csv_export_escape_formulas
        if self.csv_export_verbatim:
            options["verbatim_fields"] = self.csv_export_verbatim
        if self.csv_export_is_raw():
            return view_response(
                view_class,
                request,
                queryset=queryset,
                fields=self.get_csv_export_fields(request),
                labels=self.csv_export_labels,
                filename=filename,
                **options,
            )
        columns = display_columns(
            self, self.get_list_display(request), self.csv_export_labels
        )
        return view_response(
            display_view(view_class),
            request,
            queryset=queryset,
            model_admin=self,
            display_columns=columns,
            filename=filename,
            **options,
        )

    # -- the action ---------------------------------------------------------

    @admin.action(
        description=_("Export selected %(verbose_name_plural)s as CSV"),
        permissions=["view"],
    )
    def export_as_csv(
        self, request: HttpRequest, queryset: QuerySet[Model, object]
    ) -> HttpResponseBase:
        return self.csv_export_response(request, queryset)

    # -- <changelist>/export.<format> and its buttons ---------------------------

    def get_urls(self) -> list[URLPattern]:
        # Before ModelAdmin's own, whose "<path:object_id>/" would match first.
        prefix = f"{self.opts.app_label}_{self.opts.model_name}_export"
        exports = [
            path(
                f"export.{fmt.name}",
                self.admin_site.admin_view(self.export_csv_view)
                if fmt.name == "csv"
                else self.admin_site.admin_view(self.export_view),
                {} if fmt.name == "csv" else {"format": fmt.name},
                name=f"{prefix}_{fmt.name}",
            )
            for fmt in self._export_formats()
        ]
        return [*exports, *super().get_urls()]

    def export_csv_view(self, request: HttpRequest) -> HttpResponseBase:
        """The whole changelist, filtered, searched and ordered as on screen."""
        return self.export_view(request, "csv")

    def export_view(self, request: HttpRequest, format: str) -> HttpResponseBase:
        """The whole changelist in ``format``, as on screen."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        query = request.GET.copy()
        query.pop(PAGE_VAR, None)  # every page, not the one on screen
        request.GET = query  # type: ignore[assignment]
        try:
            changelist = self.get_changelist_instance(request)
            # The admin lets any lookup on the model's own fields through, and
            # some values only fail when turned into SQL (?total__range=1,
            # ?created__year=0): a 400 here, not a 500 once the rows are read.
            compile_query(changelist.queryset)
        except (
            IncorrectLookupParameters,
            ValidationError,
            ValueError,
            TypeError,
            IndexError,
            OverflowError,
        ) as exc:
            detail = str(exc) or request.GET.urlencode()
            if len(detail) > 300:  # the query string's values, quoted back
                detail = detail[:297] + "..."
            return HttpResponseBadRequest(
                f"These changelist filters are not valid: {detail}",
                content_type="text/plain; charset=utf-8",
            )
        return self.export_response(request, changelist.queryset, format)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, object] | None = None
    ) -> HttpResponse:
        opts = self.opts
        # The template Django's admin would pick, so per-model and per-app
        # change_list.html overrides still apply beneath the button.
        base = select_template(
            [
                f"admin/{opts.app_label}/{opts.model_name}/change_list.html",
                f"admin/{opts.app_label}/change_list.html",
                "admin/change_list.html",
            ]
        )
        prefix = f"admin:{opts.app_label}_{opts.model_name}_export"
        context = {
            "streamkit_change_list_base": base,
            "streamkit_export_formats": [
                {"name": fmt.name, "label": fmt.label, "url": f"{prefix}_{fmt.name}"}
                for fmt in self._export_formats()
            ],
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    # -- checks -------------------------------------------------------------

    def check(self, **kwargs: object) -> list[checks.CheckMessage]:
        errors = [*super().check(**kwargs), *self._check_csv_export()]
        try:
            check_formats(self.export_formats, f"{type(self).__name__}.export_formats")
        except ImproperlyConfigured as exc:
            errors.append(checks.Error(str(exc), obj=type(self), id="streamkit.E051"))
        return errors

    def _check_csv_export(self) -> list[checks.CheckMessage]:
        owner = type(self).__name__
        if not self.csv_export_is_raw():
            names = [display_name(e) for e in self.list_display]
            unknown = sorted(set(self.csv_export_labels) - set(names))
            if not unknown:
                return []
            return [
                checks.Error(
                    f"{owner}.csv_export_labels names {unknown}, which are not "
                    f"in list_display; choose from {names}.",
                    obj=type(self),
                    id="streamkit.E045",
                )
            ]
        fields = self.csv_export_fields
        if fields is None:
            fields = self._list_display_fields(self.list_display)
            if fields == [self.opts.pk.name] and fields[0] not in self.list_display:
                return [
                    checks.Warning(
                        f"{owner} exports only the primary key as CSV: its "
                        f"list_display {list(self.list_display)!r} names no "
                        "model field.",
                        hint=f"Set {owner}.csv_export_fields to the fields to "
                        "export, e.g. ['id', 'name', 'author__name'].",
                        obj=type(self),
                        id="streamkit.W045",
                    )
                ]
        try:
            # Messages name "<owner>.csv_export.fields"; say the attribute.
            attrs = f"{owner}.csv_export"
            names = expand_fields(fields, self.model, attrs)
            queryset = self.model._default_manager.all()
            resolve_columns(queryset, names, self.csv_export_labels, attrs)
        except ImproperlyConfigured as exc:
            return [
                checks.Error(
                    str(exc).replace(f"{attrs}.", f"{attrs}_"),
                    obj=type(self),
                    id="streamkit.E045",
                )
            ]
        return []


def _export_action(fmt: ExportFormat) -> Any:
    """The admin action downloading the selected rows in ``fmt``."""

    def action(
        model_admin: StreamingCSVExportMixin,
        request: HttpRequest,
        queryset: QuerySet[Model, object],
    ) -> HttpResponseBase:
        return model_admin.export_response(request, queryset, fmt.name)

    action.__name__ = f"export_as_{fmt.name}"
    # "%(verbose_name_plural)s" is filled in by the admin, as for its own.
    description = _("Export selected %(verbose_name_plural)s as ") + fmt.label
    return admin.action(description=description, permissions=["view"])(action)


def _is_field(queryset: QuerySet[Model, object], name: str) -> bool:
    try:
        resolve_field(queryset, name, "list_display")
    except ImproperlyConfigured:
        return False
    return True
