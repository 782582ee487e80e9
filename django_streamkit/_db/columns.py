"""CSV columns from field names: validation, labels and the fields they end on.

Shared by :class:`~django_streamkit.views.CSVStreamView` (per request), the
export registry and the admin mixin (through that view), and the system checks
(at startup, against the model's default QuerySet).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from django.core.exceptions import FieldDoesNotExist, FieldError, ImproperlyConfigured
from django.db.models import Field, ForeignObjectRel, Model, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.utils.text import capfirst

#: A model field of any kind (django-stubs types a field by what it sets and gets).
ModelField: TypeAlias = "Field[Any, Any]"
#: What a lookup ends on: a field, a reverse relation, or nothing (an
#: annotation, a transform).
EndField: TypeAlias = "ModelField | ForeignObjectRel | None"


class CSVDeclaration:
    """What a CSV export writes, declared once for
    :class:`~django_streamkit.views.CSVStreamView` and
    :class:`~django_streamkit.exports.CSVExport` (which hands its values to
    the view)."""

    model: type[Model] | None = None
    queryset: QuerySet[Model, object] | None = None
    #: Lookups, one column each (``"author__name"``), or ``"__all__"``.
    fields: Sequence[str] | str | None = None
    #: Column labels by field; the default is the field's ``verbose_name``.
    labels: Mapping[str, str] = {}
    #: ``True`` or field names: a choice field's label, not its stored value.
    choices_as_labels: bool | Collection[str] = False
    #: The download's name; ``None`` is the model's plural name.
    filename: str | None = None
    #: ``None``: the default (``STREAMKIT_CSV_ESCAPE_FORMULAS`` for a view,
    #: the view's for an export).
    escape_formulas: bool | None = None
    #: Fields written as they are even with escaping on (text you trust,
    #: such as phone numbers, whose "+" would otherwise get a "'").
    verbatim_fields: Collection[str] = ()


class DeclaredColumns(CSVDeclaration):
    """The hooks of a view that streams declared columns of a QuerySet
    (:class:`~django_streamkit.views.CSVStreamView`, its XLSX subclass and
    :class:`~django_streamkit.views.JSONStreamView`), in the order they run:
    ``get()`` keeps ``get_queryset()`` as ``object_list``, then calls
    ``get_columns()``."""

    object_list: QuerySet[Model, object]

    def get_queryset(self) -> QuerySet[Model, object]:
        """The QuerySet to stream (``queryset``, or ``model``'s default manager)."""
        if self.queryset is not None:
            return self.queryset.all()
        if self.model is not None:
            return self.model._default_manager.all()
        name = type(self).__name__
        raise ImproperlyConfigured(
            f"{name} is missing a QuerySet. Define {name}.model, "
            f"{name}.queryset, or override {name}.get_queryset()."
        )

    def get_fields(self) -> list[str]:
        """The lookups to stream, one column each."""
        return expand_fields(self.fields, self.object_list.model, type(self).__name__)

    def get_labels(self) -> Mapping[str, str]:
        return self.labels

    def get_columns(self) -> list[CSVColumn]:
        """Resolve each field to its label and model field; validate them and
        ``labels``."""
        return resolve_columns(
            self.object_list, self.get_fields(), self.get_labels(), type(self).__name__
        )

    def get_choices_as_labels(
        self, columns: Sequence[CSVColumn]
    ) -> dict[int, dict[object, str]]:
        """Column index -> {stored value: display label} for choice columns,
        resolved now, in the request's language."""
        return choice_labels(columns, self.choices_as_labels, type(self).__name__)


@dataclass(frozen=True)
class CSVColumn:
    """One CSV column: its lookup, label and field."""

    name: str
    label: str
    field: EndField  # None for annotations and transforms


def expand_fields(fields: object, model: type[Model], owner: str) -> list[str]:
    """``fields`` as a list of lookups; ``"__all__"`` is every concrete field."""
    if fields is None:
        raise ImproperlyConfigured(
            f"{owner}.fields is missing. List the field names to export "
            f"(lookups such as 'author__name' work), or set "
            f"{owner}.fields = '__all__' to export every concrete field."
        )
    if fields == "__all__":
        return [f.name for f in model._meta.concrete_fields]
    if isinstance(fields, str):
        raise ImproperlyConfigured(
            f"{owner}.fields must be a list of field names or '__all__', "
            f"not the string {fields!r}; write [{fields!r}]."
        )
    if not isinstance(fields, Sequence):
        raise ImproperlyConfigured(
            f"{owner}.fields must be a list of field names or '__all__', "
            f"not {fields!r}."
        )
    for name in fields:
        if not isinstance(name, str):
            raise ImproperlyConfigured(
                f"{owner}.fields holds {name!r}, which is not a field name (str)."
            )
    return list(fields)


def resolve_columns(
    queryset: QuerySet[Model, object],
    fields: Sequence[str],
    labels: Mapping[str, object],
    owner: str,
) -> list[CSVColumn]:
    """Resolve each field to its label and model field; validate them.

    Unknown fields, and labels for fields that are not exported, raise
    ``ImproperlyConfigured`` naming ``owner`` and the valid choices.
    """
    columns = []
    for name in fields:
        field, path = resolve_field(queryset, name, owner)
        label = labels.get(name)
        if label is None:
            label = capfirst(" ".join(str(part) for part in path))
        columns.append(CSVColumn(name, str(label), field))
    unknown = set(labels) - {column.name for column in columns}
    if unknown:
        raise ImproperlyConfigured(
            f"{owner}.labels names {sorted(unknown)}, which "
            f"are not in fields; choose from {[c.name for c in columns]}."
        )
    return columns


def resolve_field(
    queryset: QuerySet[Model, object], name: str, owner: str
) -> tuple[EndField, list[object]]:
    """The field ``name`` ends on and the verbose names along its path.

    Unknown names raise ``ImproperlyConfigured`` naming the field, the model
    and the valid choices. Transforms (``"created__year"``) end the path; the
    column then has no field, and Django checks the transform.
    """
    annotations = queryset.query.annotations
    if name in annotations:
        return None, [name.replace("_", " ")]
    model = queryset.model
    field: EndField = None
    path: list[object] = []
    parts = name.split(LOOKUP_SEP)
    for index, part in enumerate(parts):
        if field is not None:
            if not field.is_relation:
                path.extend(parts[index:])  # transforms such as __date__year
                try:
                    queryset.values_list(name)
                except FieldError as exc:
                    raise ImproperlyConfigured(
                        f"{owner}.fields: {name!r}: {exc}"
                    ) from None
                return None, path
            related = field.related_model
            if related is None:
                raise ImproperlyConfigured(
                    f"{owner}.fields: {name!r} follows {field.name!r}, a generic "
                    "relation, which a values_list() query cannot follow."
                )
            model = related
        try:
            field = model._meta.pk if part == "pk" else model._meta.get_field(part)
        except FieldDoesNotExist:
            choices = sorted(
                {f.name for f in model._meta.get_fields()}
                | (set(annotations) if model is queryset.model else set())
            )
            raise ImproperlyConfigured(
                f"{owner}.fields: unknown field {part!r} in {name!r} on "
                f"{model._meta.label}; choose from: {', '.join(choices)}."
            ) from None
        if isinstance(field, Field):
            path.append(field.verbose_name)
        else:  # a reverse relation
            path.append(field.related_model._meta.verbose_name)
    return field, path


def positions(
    columns: Sequence[CSVColumn], names: Collection[str] | str, owner: str
) -> list[int]:
    """The positions of the columns ``names`` (``verbatim_fields``)."""
    exported = [column.name for column in columns]
    wanted = [names] if isinstance(names, str) else list(names)
    for name in wanted:
        if name not in exported:
            raise ImproperlyConfigured(
                f"{owner}.verbatim_fields names {name!r}, which is not one of "
                f"the exported columns; choose from {exported}."
            )
    return [index for index, name in enumerate(exported) if name in wanted]


def choice_labels(
    columns: Sequence[CSVColumn], wanted: bool | Collection[str], owner: str
) -> dict[int, dict[object, str]]:
    """Column index -> {stored value: display label} for the choice columns
    ``wanted`` names (``True``: every one), resolved in the active language."""
    if not wanted:
        return {}
    with_choices = [c.name for c in columns if getattr(c.field, "choices", None)]
    if wanted is True:
        wanted = with_choices
    elif isinstance(wanted, str):
        wanted = [wanted]
    for name in wanted:
        if name not in with_choices:
            raise ImproperlyConfigured(
                f"{owner}.choices_as_labels names {name!r}, which is not a "
                f"field with choices in fields; choose from {with_choices}."
            )
    return {
        index: {value: str(label) for value, label in column.field.flatchoices}
        for index, column in enumerate(columns)
        if column.name in wanted and isinstance(column.field, Field)
    }
