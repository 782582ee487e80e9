"""Query-string filters for exports: ``?status=paid&created__gte=2024-01-01``.

Only the keys an export declares in ``filter_fields`` are accepted, each
exactly as declared (``"status"`` is an exact match; ``"created__gte"`` must be
declared to be used); each value is parsed as its field parses form input
(see :mod:`django_streamkit._exports.lookups`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

from django.core.exceptions import (
    EmptyResultSet,
    FieldError,
    FullResultSet,
    ImproperlyConfigured,
    ValidationError,
)
from django.db.models import (
    BooleanField,
    DateField,
    DecimalField,
    FloatField,
    IntegerField,
    Model,
    QuerySet,
    TimeField,
)
from django.db.models.fields.related import RelatedField

from django_streamkit._exports.lookups import LIST_LOOKUPS, TEXT_LOOKUPS, Filter

__all__ = ["Filter", "FilterError", "FilterInput", "describe", "filter_queryset"]


class FilterError(ValueError):
    """A query-string filter that is not allowed or has a bad value."""


class FilterInput(TypedDict):
    """How a form offers a filter (see :func:`describe`)."""

    key: str
    label: str
    type: str  # an <input> type, or "select"
    choices: NotRequired[list[tuple[str, str]]]


# How the index page words a lookup after the field's name.
LOOKUP_WORDS = {
    "exact": "",
    "iexact": "(any case)",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "in": "(one of, comma-separated)",
    "range": "(from,to)",
    "contains": "contains",
    "icontains": "contains",
    "startswith": "starts with",
    "istartswith": "starts with",
    "endswith": "ends with",
    "iendswith": "ends with",
    "isnull": "is empty",
}


def describe(queryset: QuerySet[Model, object], key: str) -> FilterInput:
    """How a form offers filter ``key``: its label, input type and choices."""
    spec = Filter.resolve(queryset, key)
    field = spec.field
    if isinstance(field, RelatedField):
        field = field.target_field
    label = " ".join([*spec.words, LOOKUP_WORDS.get(spec.lookup, spec.lookup)])
    info: FilterInput = {"key": key, "label": label.strip(), "type": "text"}
    if spec.lookup == "isnull" or isinstance(field, BooleanField):
        info["type"] = "select"
        info["choices"] = [("true", "yes"), ("false", "no")]
    elif spec.lookup in TEXT_LOOKUPS or spec.lookup in LIST_LOOKUPS:
        pass
    elif getattr(field, "flatchoices", None):
        info["type"] = "select"
        info["choices"] = [(str(v), str(label)) for v, label in field.flatchoices]
    elif isinstance(field, DateField):  # and DateTimeField, a subclass
        info["type"] = "date"
    elif isinstance(field, TimeField):
        info["type"] = "time"
    elif isinstance(field, IntegerField | DecimalField | FloatField):
        info["type"] = "number"
    return info


def _choices(queryset: QuerySet[Model, object], key: str) -> str:
    field = Filter.resolve(queryset, key).field
    choices = getattr(field, "flatchoices", None)
    if not choices:
        return ""
    return f" Choices: {', '.join(str(value) for value, _ in choices)}."


def filter_queryset(
    queryset: QuerySet[Model, object],
    params: Mapping[str, Sequence[str]],
    allowed: Sequence[str],
) -> QuerySet[Model, object]:
    """``queryset`` filtered by ``params`` (a ``QueryDict``'s ``lists()``).

    Empty values are ignored, as an HTML form sends them. Anything else that
    is not allowed raises :class:`FilterError` with a message that names the
    allowed filters.
    """
    given = dict(params)
    if not given:
        return queryset
    hint = (
        f"Allowed filters: {', '.join(allowed)}."
        if allowed
        else "This export takes no filters."
    )
    conditions: dict[str, object] = {}
    for key, values in given.items():
        if key not in allowed:
            raise FilterError(f"Unknown filter {_short(key)}. {hint}")
        values = [value for value in values if value != ""]
        if not values:
            continue
        if len(values) > 1:
            raise FilterError(
                f"Filter {key!r} is given {len(values)} times; give it once "
                f"(the 'in' lookup takes a comma-separated list). {hint}"
            )
        try:
            conditions[key] = value = Filter.resolve(queryset, key).clean(values[0])
            compile_query(queryset.filter(**{key: value}))
        except FieldError as exc:
            # Declared, but the QuerySet cannot take it: the server's mistake
            # (streamkit.E041 reports it at startup), not the client's.
            raise ImproperlyConfigured(
                f"filter_fields: {key!r} is not a filter of this QuerySet: {exc}"
            ) from exc
        except ValidationError as exc:
            raise FilterError(
                f"Bad value {_short(values[0])} for filter {key!r}: "
                f"{' '.join(exc.messages)}{_choices(queryset, key)} {hint}"
            ) from None
        except (ValueError, TypeError, OverflowError) as exc:
            raise FilterError(
                f"Bad value {_short(values[0])} for filter {key!r}: {exc}. {hint}"
            ) from None
    return queryset.filter(**conditions)


def compile_query(queryset: QuerySet[Model, object]) -> None:
    """Turn the condition into SQL now, as reading the rows will.

    Values a field accepts can still fail there, in the view or after the
    headers: a year outside 1-9999 for ``__year``, a date-time with an
    offset that moves it out of range. Raised here, they are a 400.
    """
    with contextlib.suppress(EmptyResultSet, FullResultSet):
        queryset.query.get_compiler(queryset.db).as_sql()


def _short(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
