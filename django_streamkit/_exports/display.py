"""What a changelist shows, as CSV columns: the admin export's default.

Each entry of ``list_display`` is one column, titled as the changelist titles
it. A model field (or a lookup across foreign keys) is written as a value: a
field with choices as its label, a foreign key as ``str()`` of the object.
When every column is such a value, and each foreign key's model has a
``__str__`` that returns one of its text fields as it is, the rows are read
with ``values_list()`` by the column-wise reader. Otherwise model instances
are read with ``select_related()`` in chunks (``.iterator(chunk_size)``), and
the admin's methods, model methods and properties are called on them as the
changelist calls them: one query per chunk, never one per row.
"""

from __future__ import annotations

import ast
import functools
import html
import inspect
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.admin.utils import label_for_field, lookup_field
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db.models import CharField, Model, QuerySet, TextField
from django.db.models.constants import LOOKUP_SEP
from django.utils.html import strip_tags
from django.utils.safestring import SafeData
from django.utils.text import capfirst

from django_streamkit._db.columns import CSVColumn
from django_streamkit._db.queryset import QuerySetRows
from django_streamkit.conf import conf
from django_streamkit.views import CSVStreamView

__all__ = [
    "DisplayColumn",
    "DisplayColumnsMixin",
    "display_columns",
    "display_name",
    "display_rows",
    "display_view",
]


@dataclass(frozen=True)
class DisplayColumn:
    """One ``list_display`` entry as a CSV column."""

    name: str  # the entry's name, as csv_export_labels names it
    label: str
    entry: str | Callable[..., object]  # the list_display entry
    #: The values_list() lookup that reads the cell, when it is a value.
    lookup: str | None = None
    #: Attributes to follow from an instance; None calls the entry instead.
    attrs: tuple[str, ...] | None = None
    #: The select_related() path the attributes cross.
    related: str | None = None
    choices: Mapping[object, str] | None = None
    #: The attributes end on a related object, written as its str().
    as_str: bool = False


def display_name(entry: object) -> str:
    """A ``list_display`` entry's name: itself, or a callable's ``__name__``."""
    return entry if isinstance(entry, str) else getattr(entry, "__name__", repr(entry))


def display_columns(
    model_admin: Any, list_display: Sequence[Any], labels: Mapping[str, object]
) -> list[DisplayColumn]:
    """The changelist's columns (``action_checkbox`` aside), in its order."""
    model = model_admin.model
    columns = []
    for entry in list_display:
        if entry == "action_checkbox":
            continue
        name = display_name(entry)
        label = labels.get(name)
        if label is None:
            # As the changelist's header shows it (capfirst in its template).
            label = capfirst(str(label_for_field(entry, model, model_admin)))
        column = DisplayColumn(name, str(label), entry)
        if isinstance(entry, str):
            column = _as_value(model, model_admin, column)
        columns.append(column)
    return columns


def _as_value(
    model: type[Model], model_admin: object, column: DisplayColumn
) -> DisplayColumn:
    # The order in which the admin's lookup_field() resolves a name: a field
    # of the model, then an attribute of the admin or the model, then a path.
    name = column.name
    if name == "__str__":
        attr = str_field(model)
        return column if attr is None else _replace(column, lookup=attr)
    try:
        field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    except FieldDoesNotExist:
        if LOOKUP_SEP not in name or hasattr(model_admin, name) or hasattr(model, name):
            return column
        return _follow(model, column)
    if field.is_relation and (field.many_to_many or field.one_to_many):
        return column  # the admin refuses these (admin.E109), or calls them
    if field.is_relation and name == getattr(field, "attname", None):
        return _replace(column, lookup=name, attrs=(name,))  # the key, as shown
    return _field_value(field, column, (name,))


def _follow(model: type[Model], column: DisplayColumn) -> DisplayColumn:
    parts = column.name.split(LOOKUP_SEP)
    field: Any = None
    for part in parts:
        if field is not None:
            if not (field.is_relation and (field.many_to_one or field.one_to_one)):
                return column  # a transform, or a relation of many rows
            model = field.related_model
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return column  # an attribute of a related object
    return _field_value(field, column, tuple(parts))


def _field_value(
    field: Any, column: DisplayColumn, parts: tuple[str, ...]
) -> DisplayColumn:
    related = LOOKUP_SEP.join(parts[:-1]) or None
    lookup = LOOKUP_SEP.join(parts)
    if field.is_relation:
        if field.many_to_many or field.one_to_many or field.related_model is None:
            return column
        attr = str_field(field.related_model)
        return _replace(
            column,
            lookup=None if attr is None else f"{lookup}{LOOKUP_SEP}{attr}",
            attrs=parts,
            related=lookup,
            as_str=True,
        )
    choices = None
    if getattr(field, "choices", None):
        # Resolved now, in the request's language.
        choices = {value: str(label) for value, label in field.flatchoices}
    return _replace(
        column, lookup=lookup, attrs=parts, related=related, choices=choices
    )


def _replace(column: DisplayColumn, **changes: Any) -> DisplayColumn:
    return DisplayColumn(**{**column.__dict__, **changes})


def str_field(model: type[Model]) -> str | None:
    """The text field ``model.__str__`` returns as it is (``return
    self.name``), so the column can be read as that field; otherwise None."""
    attr = _returned_attribute(model.__str__)
    if attr is None:
        return None
    try:
        field = model._meta.get_field(attr)
    except FieldDoesNotExist:
        return None
    if isinstance(field, CharField | TextField) and field.concrete:
        return attr
    return None


@functools.cache
def _returned_attribute(method: Callable[..., object]) -> str | None:
    """``name`` when ``method``'s whole body is ``return self.name``."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(method)))
    except (OSError, TypeError, SyntaxError):
        return None
    function = tree.body[0] if len(tree.body) == 1 else None
    if not isinstance(function, ast.FunctionDef) or function.decorator_list:
        return None
    body = function.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
    ):
        body = body[1:]  # the docstring
    arguments = function.args.args
    if len(body) != 1 or not isinstance(body[0], ast.Return) or len(arguments) != 1:
        return None
    value = body[0].value
    if (
        isinstance(value, ast.Attribute)
        and isinstance(value.value, ast.Name)
        and value.value.id == arguments[0].arg
    ):
        return value.attr
    return None


def display_rows(
    model_admin: Any,
    queryset: QuerySet[Model, object],
    columns: Sequence[DisplayColumn],
    chunk_size: int,
) -> QuerySetRows:
    """The rows of ``queryset`` as the changelist shows them, read in chunks."""
    if all(column.lookup is not None for column in columns):
        labels = {i: dict(c.choices) for i, c in enumerate(columns) if c.choices}
        lookups = [column.lookup for column in columns if column.lookup]
        values = queryset.prefetch_related(None).values_list(*lookups)
        return QuerySetRows(values, chunk_size, labels)
    related = [column.related for column in columns if column.related]
    # select_related() with no names follows every foreign key already.
    if related and queryset.query.select_related is not True:
        queryset = queryset.select_related(*related)
    cells = [_cell(model_admin, column) for column in columns]
    return QuerySetRows(
        queryset, chunk_size, row=lambda obj: [cell(obj) for cell in cells]
    )


def _cell(model_admin: Any, column: DisplayColumn) -> Callable[[Model], object]:
    attrs, choices, as_str = column.attrs, column.choices, column.as_str
    if attrs is None:
        entry = column.entry

        def called(obj: Model) -> object:
            try:
                value = lookup_field(entry, obj, model_admin)[2]
            except ObjectDoesNotExist:  # a missing reverse one-to-one, say
                return None
            if isinstance(value, SafeData):  # HTML the changelist renders
                return html.unescape(strip_tags(str(value)))
            return value

        return called

    def followed(obj: Model) -> object:
        value = obj
        for attr in attrs:
            try:
                value = getattr(value, attr)
            except ObjectDoesNotExist:
                return None
            if value is None:
                return None
        if choices is not None:
            return choices.get(value, value)
        return str(value) if as_str else value

    return followed


class DisplayColumnsMixin:
    """Makes a format's view (with :class:`CSVStreamView`'s hooks) write
    ``display_columns`` of ``model_admin``'s changelist."""

    object_list: QuerySet[Model, object]
    model_admin: Any = None
    display_columns: Sequence[DisplayColumn] = ()

    def get_columns(self) -> list[CSVColumn]:
        return [CSVColumn(c.name, c.label, None) for c in self.display_columns]

    def get_rows(self) -> QuerySetRows:
        return display_rows(
            self.model_admin,
            self.object_list,
            self.display_columns,
            conf.QUERYSET_CHUNK_SIZE,
        )


class DisplayCSVView(DisplayColumnsMixin, CSVStreamView):
    """Writes ``display_columns`` of ``model_admin``'s changelist as CSV."""


def display_view(view_class: type[Any]) -> type[Any]:
    """``view_class`` (a format's view: its dialect, encoding, filename...)
    writing the changelist's columns."""
    if view_class is CSVStreamView:
        return DisplayCSVView
    view = _DISPLAY_VIEWS.get(view_class)
    if view is None:
        view = type(view_class.__name__, (DisplayColumnsMixin, view_class), {})
        _DISPLAY_VIEWS[view_class] = view
    return view


_DISPLAY_VIEWS: dict[type[Any], type[Any]] = {}
