"""System checks of the export registry (ids in :mod:`django_streamkit.checks`)."""

from __future__ import annotations

from collections.abc import Mapping

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, FieldError, ImproperlyConfigured
from django.db.models import Model, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.urls import NoReverseMatch, resolve, reverse
from django.utils.module_loading import import_string

from django_streamkit._db.columns import CSVColumn, expand_fields, resolve_columns
from django_streamkit._exports.lookups import Filter
from django_streamkit.exports import CSVExport, registry
from django_streamkit.views import CSVStreamView

AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


def check_registry() -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    slugs: dict[str, CSVExport] = {}
    for export in registry:
        errors += _check_fields(export)
        errors += _check_filters(export)
        errors += _check_permissions(export)
        try:
            export.get_formats()
        except ImproperlyConfigured as exc:
            errors.append(checks.Error(str(exc), obj=type(export), id="streamkit.E051"))
        slug = export.get_slug()
        first = slugs.setdefault(slug, export)
        if first is not export:
            errors.append(
                checks.Error(
                    f"{_name(export)} and {_name(first)} have the same slug "
                    f"{slug!r}; only {_name(first)} can be reached at "
                    f"{slug}.csv.",
                    hint=f"Give one of them another slug: slug = '{slug}-2'.",
                    obj=type(export),
                    id="streamkit.E042",
                )
            )
    return errors


def _name(export: CSVExport) -> str:
    return f"{type(export).__module__}.{type(export).__qualname__}"


def _queryset(export: CSVExport) -> tuple[QuerySet[Model, object], bool]:
    """The QuerySet to check against, and whether get_queryset() may annotate it."""
    if export.queryset is not None:
        queryset = export.queryset
    else:
        queryset = export.get_model()._default_manager.all()
    overridden = type(export).get_queryset is not CSVExport.get_queryset
    return queryset, overridden


def _maybe_annotation(model: type[Model], name: str) -> bool:
    # A name get_queryset() may annotate: its first part is no model field.
    first = name.split(LOOKUP_SEP, 1)[0]
    if first == "pk":
        return False
    try:
        model._meta.get_field(first)
    except FieldDoesNotExist:
        return True
    return False


def _check_fields(export: CSVExport) -> list[checks.CheckMessage]:
    queryset, overridden = _queryset(export)
    try:
        check_columns(
            queryset, overridden, export.fields, export.labels, type(export).__name__
        )
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), obj=type(export), id="streamkit.E040")]
    return []


def check_columns(
    queryset: QuerySet[Model, object],
    overridden: bool,
    fields: object,
    labels: Mapping[str, object],
    owner: str,
) -> list[CSVColumn]:
    """The columns ``fields`` and ``labels`` make; ``ImproperlyConfigured`` if bad.

    When ``get_queryset()`` is ``overridden``, names it may annotate are left
    out, to be checked per request.
    """
    model = queryset.model
    names = expand_fields(fields, model, owner)
    labels = dict(labels)
    if overridden:
        skipped = {n for n in names if _maybe_annotation(model, n)}
        names = [n for n in names if n not in skipped]
        labels = {k: v for k, v in labels.items() if k not in skipped}
    return resolve_columns(queryset, names, labels, owner)


def check_csv_view(
    view_class: type[CSVStreamView], initkwargs: Mapping[str, object]
) -> list[checks.CheckMessage]:
    """E048: a routed CSVStreamView's model, fields, labels, choices_as_labels."""

    def overrides(name: str) -> bool:
        return getattr(view_class, name) is not getattr(CSVStreamView, name)

    if overrides("get_fields") or overrides("get_columns"):
        return []  # computed per request
    view = view_class(**initkwargs)
    overridden = overrides("get_queryset")
    name = f"{view_class.__module__}.{view_class.__qualname__}"
    try:
        if view.queryset is not None:
            queryset = view.queryset
        elif view.model is not None:
            queryset = view.model._default_manager.all()
        elif overridden:
            return []
        else:
            queryset = view.get_queryset()  # raises, naming the fix
        labels = {} if overrides("get_labels") else view.labels
        columns = check_columns(
            queryset, overridden, view.fields, labels, view_class.__name__
        )
        if not overrides("get_choices_as_labels"):
            view.get_choices_as_labels(columns)
    except ImproperlyConfigured as exc:
        return [
            checks.Error(
                f"{exc} A URL routes to {name}: every request to it would fail.",
                hint="Fix the view's attributes (or the arguments of its "
                "as_view() in the URLconf).",
                obj=view_class,
                id="streamkit.E048",
            )
        ]
    return []


def _check_filters(export: CSVExport) -> list[checks.CheckMessage]:
    queryset, overridden = _queryset(export)
    owner = type(export).__name__
    keys = export.filter_fields
    if isinstance(keys, str):
        return [
            checks.Error(
                f"{owner}.filter_fields is the string {keys!r}; it must be a "
                "list of filter names.",
                hint=f"Write filter_fields = [{keys!r}].",
                obj=type(export),
                id="streamkit.E041",
            )
        ]
    errors: list[checks.CheckMessage] = []
    for key in keys:
        if overridden and _maybe_annotation(queryset.model, key):
            continue
        try:
            Filter.resolve(queryset, key)
        except FieldError as exc:
            errors.append(
                checks.Error(
                    f"{owner}.filter_fields: {key!r} is not a filter of "
                    f"{queryset.model._meta.label}: {exc}",
                    hint="Name a field, or a field and a lookup as "
                    "QuerySet.filter() takes them: 'status', 'created__gte', "
                    "'author__name__icontains'.",
                    obj=type(export),
                    id="streamkit.E041",
                )
            )
    return errors


def _check_permissions(export: CSVExport) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    labels = {config.label for config in apps.get_app_configs()}
    for perm in export.get_permission_required():
        app_label, _, codename = str(perm).partition(".")
        if not isinstance(perm, str) or not codename or app_label not in labels:
            errors.append(
                checks.Error(
                    f"{type(export).__name__}.permission_required has "
                    f"{perm!r}, which no user can have: permissions are "
                    "'app_label.codename' of an installed app.",
                    hint="Write, e.g., 'shop.view_order', or leave "
                    "permission_required unset for the model's view permission.",
                    obj=type(export),
                    id="streamkit.E043",
                )
            )
    return errors


AUTH_APPS = ["django.contrib.auth", "django.contrib.contenttypes"]


def check_auth_for_urls() -> list[checks.CheckMessage]:
    missing_apps = [f"{app!r}" for app in AUTH_APPS if not apps.is_installed(app)]
    try:
        reverse("streamkit:index")
    except NoReverseMatch:  # not mounted: registered exports still need auth
        exports = [_name(export) for export in registry]
        if not exports or not missing_apps:
            return []
        return [
            checks.Error(
                f"{', '.join(exports)} {'is' if len(exports) == 1 else 'are'} "
                "registered, but exports check request.user's permissions and "
                f"there is no {' and no '.join(missing_apps)} in INSTALLED_APPS.",
                hint=f"Add {' and '.join(missing_apps)} to INSTALLED_APPS (and "
                f"{AUTH_MIDDLEWARE!r} to MIDDLEWARE), or remove the exports.",
                id="streamkit.E049",
            )
        ]
    missing = [f"{app} in INSTALLED_APPS" for app in missing_apps]
    if missing_apps:
        if AUTH_MIDDLEWARE not in settings.MIDDLEWARE:
            missing.append(f"{AUTH_MIDDLEWARE!r} in MIDDLEWARE")
    elif not any(_is_auth_middleware(path) for path in settings.MIDDLEWARE):
        missing.append(f"{AUTH_MIDDLEWARE!r} in MIDDLEWARE")
    if not missing:
        return []
    return [
        checks.Error(
            "django_streamkit.urls is mounted, but its exports check "
            "request.user's permissions and there is no "
            f"{' and no '.join(missing)}.",
            hint=f"Add {' and '.join(missing)} (after SessionMiddleware).",
            id="streamkit.E044",
        )
    ]


def check_login_for_urls() -> list[checks.CheckMessage]:
    """W050: anonymous users of the mounted exports go to no login page."""
    from django_streamkit._exports.login import admin_login_url, login_target

    try:
        index = resolve(reverse("streamkit:index"))
    except NoReverseMatch:
        return []  # not mounted
    if getattr(getattr(index.func, "view_class", None), "login_url", None):
        return []  # the view's own
    configured = str(settings.LOGIN_URL)
    if login_target(configured) is not None:
        return []
    admin = admin_login_url()
    if admin is not None:
        instead = f"to the admin's login page, {admin}, instead"
    else:
        instead = "there, to a page that does not exist (404)"
    return [
        checks.Warning(
            f"LOGIN_URL is {configured!r}, which is no URL of this site, so "
            f"django_streamkit.urls sends anonymous users {instead}.",
            hint="Set LOGIN_URL to the site's login page ('admin:login' for the "
            "admin's), or add path('accounts/', "
            "include('django.contrib.auth.urls')) to the URLconf.",
            id="streamkit.W050",
        )
    ]


def _is_auth_middleware(path: str) -> bool:
    # Imported here: it needs django.contrib.auth installed.
    from django.contrib.auth.middleware import AuthenticationMiddleware

    try:
        middleware = import_string(path)
    except ImportError:
        return False
    return isinstance(middleware, type) and issubclass(
        middleware, AuthenticationMiddleware
    )
