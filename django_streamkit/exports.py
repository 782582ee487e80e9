"""Mountable exports: :class:`CSVExport`, :func:`register` and their views.

Declare an export in an app's ``exports.py`` (imported at startup, as
``admin.py`` is)::

    from django_streamkit.exports import CSVExport, register

    @register
    class OrderExport(CSVExport):
        model = Order
        fields = ["id", "customer__name", "status", "total", "created"]
        filter_fields = ["status", "created__gte", "created__lt"]

and mount ``path("exports/", include("django_streamkit.urls"))``: users with
the ``view`` permission of ``Order`` find it on ``/exports/`` and download
``/exports/shop-order.csv?status=paid``. ``formats = ("csv", "xlsx")`` offers
the same columns, filters and permissions as ``shop-order.xlsx`` too.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any, TypeVar

from django.contrib.auth import get_permission_codename
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.module_loading import autodiscover_modules
from django.utils.text import capfirst
from django.views import View

from django_streamkit._db.columns import CSVDeclaration
from django_streamkit._exports.filters import (
    FilterError,
    FilterInput,
    describe,
    filter_queryset,
)
from django_streamkit._exports.formats import (
    ExportFormat,
    check_formats,
    filename_for,
    get_format,
    urls_of,
    view_response,
)
from django_streamkit._exports.index import render_index
from django_streamkit._exports.login import LoginRedirectMixin
from django_streamkit.conf import conf
from django_streamkit.views import CSVStreamView

__all__ = ["CSVExport", "ExportRegistry", "autodiscover", "register", "registry"]

# What Django's <slug:...> path converter matches.
SLUG_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
)


class CSVExport(CSVDeclaration):
    """One CSV export that users with its permission may download.

    ``model`` or ``queryset`` (or an overridden ``get_queryset(request)``)
    says what is exported; ``fields`` (a list of lookups, or ``"__all__"``)
    are the only columns that can ever leave, labelled from ``verbose_name``
    or ``labels``. ``slug`` names its URL (default ``"<app_label>-<model>"``),
    ``title`` and ``description`` show on the index. ``filter_fields`` are the
    query-string filters a user may add, each exactly as written
    (``"status"``, ``"created__gte"``). ``permission_required`` defaults to
    the model's ``view`` permission; ``()`` lets any signed-in user in.
    ``formats`` are the downloads offered, ``<slug>.<format>`` each: ``"csv"``
    (the default), and ``"xlsx"``, ``"json"`` or ``"ndjson"`` with the same
    columns; ``filename``'s extension follows the format.
    ``bom`` (default: ``STREAMKIT_EXPORT_BOM``, on) starts the download with
    a UTF-8 byte order mark, so Excel reads it as UTF-8; ``escape_formulas``
    (default: the view's, ``STREAMKIT_CSV_ESCAPE_FORMULAS``) turns formula
    escaping off or on for this export.
    """

    # model, queryset, fields, labels, choices_as_labels, filename and
    # escape_formulas: see CSVDeclaration.
    slug: str | None = None
    title: str | None = None
    description: str = ""
    filter_fields: Sequence[str] = ()
    permission_required: str | Collection[str] | None = None
    bom: bool | None = None
    formats: Sequence[str] = ("csv",)
    #: The CSV download's view; other formats use their own view classes.
    view_class: type[CSVStreamView] = CSVStreamView

    def get_model(self) -> type[Model]:
        if self.model is not None:
            return self.model
        if self.queryset is not None:
            return self.queryset.model
        name = type(self).__name__
        raise ImproperlyConfigured(
            f"{name} has no model. Set {name}.model (or {name}.queryset); "
            f"get_queryset() may still narrow it per request."
        )

    def get_slug(self) -> str:
        if self.slug is not None:
            return self.slug
        opts = self.get_model()._meta
        return f"{opts.app_label}-{opts.model_name}"

    def get_title(self) -> str:
        if self.title is not None:
            return str(self.title)
        return capfirst(str(self.get_model()._meta.verbose_name_plural))

    def get_permission_required(self) -> tuple[str, ...]:
        perms = self.permission_required
        if perms is None:
            opts = self.get_model()._meta
            return (f"{opts.app_label}.{get_permission_codename('view', opts)}",)
        if isinstance(perms, str):
            return (perms,)
        return tuple(perms)

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return user.is_active and user.has_perms(self.get_permission_required())

    def get_queryset(self, request: HttpRequest) -> QuerySet[Model, object]:
        """Everything the export may write; narrow it per user here."""
        if self.queryset is not None:
            return self.queryset.all()
        return self.get_model()._default_manager.all()

    def filter_queryset(
        self, request: HttpRequest, queryset: QuerySet[Model, object]
    ) -> QuerySet[Model, object]:
        """Apply the query string's filters; raise ``FilterError`` (400) if bad."""
        return filter_queryset(
            queryset, dict(request.GET.lists()), list(self.filter_fields)
        )

    def get_formats(self) -> list[ExportFormat]:
        """The formats offered, first the one the index links the title to."""
        return check_formats(self.formats, f"{type(self).__name__}.formats")

    def get_view_class(self, fmt: ExportFormat) -> type[Any]:
        """The streaming view writing ``fmt``: ``view_class`` for CSV."""
        return self.view_class if fmt.name == "csv" else fmt.view_class()

    def get_view_kwargs(self, request: HttpRequest) -> dict[str, object]:
        """Attributes for the format's view (a :class:`CSVStreamView` for
        CSV; options a format's view doesn't have are left out)."""
        kwargs: dict[str, object] = {
            "fields": self.fields,
            "labels": self.labels,
            "filename": self.filename,
            "choices_as_labels": self.choices_as_labels,
            "verbatim_fields": self.verbatim_fields,
            "bom": export_bom(self.bom, self.view_class),
        }
        if self.escape_formulas is not None:  # else the view_class's own
            kwargs["escape_formulas"] = self.escape_formulas
        return kwargs

    def response(self, request: HttpRequest, format: str = "csv") -> HttpResponseBase:
        """The download in ``format``, filtered by the query string."""
        fmt = get_format(format, f"{type(self).__name__}.response()")
        queryset = self.filter_queryset(request, self.get_queryset(request))
        kwargs = self.get_view_kwargs(request)
        if fmt.name != "csv":
            kwargs["filename"] = filename_for(self.filename, fmt)
        return view_response(
            self.get_view_class(fmt), request, queryset=queryset, **kwargs
        )


#: The response of a configured CSV view (see view_response()).
csv_view_response = view_response


def export_bom(bom: bool | None, view_class: type[CSVStreamView]) -> bool:
    """``bom``, or by default ``STREAMKIT_EXPORT_BOM`` where the view's
    encoding has a byte order mark to write (not ``cp1252``, say)."""
    if bom is not None:
        return bom
    if not conf.EXPORT_BOM:
        return False
    try:
        "\ufeff".encode(view_class.encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


ExportT = TypeVar("ExportT", bound=type[CSVExport])


class ExportRegistry:
    """The registered exports, in registration order."""

    def __init__(self) -> None:
        # Named as the admin site's, which autodiscover_modules() restores
        # when an app's exports module fails to import.
        self._registry: dict[type[CSVExport], CSVExport] = {}

    def register(self, export_class: ExportT) -> ExportT:
        if not (isinstance(export_class, type) and issubclass(export_class, CSVExport)):
            raise TypeError(
                f"register() takes a CSVExport subclass, not {export_class!r}; "
                "write @register above 'class MyExport(CSVExport):'."
            )
        export = export_class()
        slug = export.get_slug()  # raises if there is no model
        if not slug or not set(slug) <= SLUG_CHARACTERS:
            raise ImproperlyConfigured(
                f"{export_class.__name__}.slug is {slug!r}; a slug is made of "
                "ASCII letters, digits, hyphens and underscores, as in "
                "'paid-orders'."
            )
        self._registry[export_class] = export
        return export_class

    def unregister(self, export_class: type[CSVExport]) -> None:
        self._registry.pop(export_class, None)

    def __iter__(self) -> Iterator[CSVExport]:
        return iter(list(self._registry.values()))

    def __len__(self) -> int:
        return len(self._registry)

    def get(self, slug: str) -> CSVExport | None:
        """The first export registered with ``slug`` (the checks flag doubles)."""
        return next((e for e in self if e.get_slug() == slug), None)


registry = ExportRegistry()


def register(export_class: ExportT) -> ExportT:
    """Class decorator: add a :class:`CSVExport` subclass to the registry."""
    return registry.register(export_class)


def autodiscover() -> None:
    """Import every installed app's ``exports`` module, as admin.autodiscover()."""
    autodiscover_modules("exports", register_to=registry)


# -- views (mounted by django_streamkit.urls) ----------------------------------


class ExportIndexView(LoginRedirectMixin, View):
    """A streamed page listing the exports the user may download."""

    http_method_names = ["get", "head", "options"]
    template_name = "streamkit/index.html"

    def get(self, request: HttpRequest) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        namespace = request.resolver_match.namespace if request.resolver_match else ""
        exports = []
        for export in registry:
            if not export.has_permission(request):
                continue
            slug = export.get_slug()
            formats = export.get_formats()
            urls = {
                fmt.name: reverse(
                    "streamkit:export"
                    if fmt.name == "csv"
                    else "streamkit:export_format",
                    kwargs={"slug": slug}
                    if fmt.name == "csv"
                    else {"slug": slug, "format": fmt.name},
                    current_app=namespace,
                )
                for fmt in formats
            }
            exports.append(
                {
                    "export": export,
                    "title": export.get_title(),
                    "description": export.description,
                    "url": urls[formats[0].name],
                    "downloads": urls_of(formats, urls),
                    "filters": export_filters(export, request),
                }
            )
        return render_index(request, self.template_name, {"exports": exports})


class ExportView(LoginRedirectMixin, View):
    """``<slug>.<format>``: one export, filtered by the query string."""

    http_method_names = ["get", "head", "options"]

    def get(
        self, request: HttpRequest, slug: str, format: str = "csv"
    ) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()  # the login redirect
        export = registry.get(slug)
        if export is None:
            raise Http404(f"No export is registered with the slug {slug!r}.")
        if not export.has_permission(request):
            return self.handle_no_permission()  # 403 when signed in
        offered = [fmt.name for fmt in export.get_formats()]
        if format not in offered:
            raise Http404(
                f"The export {slug!r} is not offered as {format!r}; it is "
                f"offered as {offered}."
            )
        try:
            if format == "csv":  # as before formats: response(request)
                return export.response(request)
            return export.response(request, format=format)
        except FilterError as exc:
            return HttpResponseBadRequest(
                str(exc), content_type="text/plain; charset=utf-8"
            )


def export_filters(export: CSVExport, request: HttpRequest) -> list[FilterInput]:
    """How the index offers each filter: a name, a label and an input."""
    queryset = export.get_queryset(request)
    return [describe(queryset, key) for key in export.filter_fields]
