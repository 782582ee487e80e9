"""A filter key an export declares, resolved, and its query-string value parsed.

Values are parsed the way the model field parses form input (its
``formfield()``, or ``to_python()`` where it has none), so choices, dates in
the active time zone, decimals and lengths are checked before the query runs,
and values the database would fail on are refused first (a 400, not a 500).
"""

from __future__ import annotations

import datetime
import decimal
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import DataError, connections, transaction
from django.db.models import (
    BooleanField,
    CharField,
    IntegerField,
    Model,
    QuerySet,
    Value,
)
from django.db.models.constants import LOOKUP_SEP
from django.db.models.fields.related import RelatedField

from django_streamkit._db.columns import ModelField

# Lookups that compare text, whatever the field: their value stays a string.
TEXT_LOOKUPS = frozenset(
    {
        "iexact",
        "contains",
        "icontains",
        "startswith",
        "istartswith",
        "endswith",
        "iendswith",
        "regex",
        "iregex",
    }
)
REGEX_LOOKUPS = frozenset({"regex", "iregex"})
# Lookups whose value is a comma-separated list.
LIST_LOOKUPS = {"in": None, "range": 2}
#: The longest value a filter takes, in characters: far above any real one,
#: and well below what a database refuses (SQLite's LIKE takes 50,000 bytes).
MAX_VALUE_LENGTH = 2000
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class Filter:
    """A declared filter key, resolved: the field its value is parsed with."""

    key: str
    field: ModelField  # the output field of the lookup's left-hand side
    lookup: str
    words: tuple[str, ...]  # the verbose names along the path, transforms
    using: str  # the database alias of the QuerySet

    @classmethod
    def resolve(cls, queryset: QuerySet[Model, object], key: str) -> Filter:
        """Resolve ``key`` as ``QuerySet.filter()`` would; ``FieldError`` if bad."""
        query = queryset.query.chain()
        lookups, parts, expression = query.solve_lookup_type(key)
        if expression is False:
            lhs = query.resolve_ref(LOOKUP_SEP.join(parts))
        else:  # an annotation of the QuerySet
            lhs = expression
        words = [str(part).replace("_", " ") for part in parts or [key]]
        *transforms, last = lookups or ["exact"]
        for name in transforms:
            lhs = query.try_transform(lhs, name)
            words.append(name)
        if lhs.get_lookup(last) is None:
            lhs = query.try_transform(lhs, last)  # raises, with suggestions
            words.append(last)
            last = "exact"
        return cls(key, lhs.output_field, last, tuple(words), queryset.db)

    def clean(self, raw: str) -> object:
        """The query value for the query-string value ``raw``."""
        if len(raw) > MAX_VALUE_LENGTH:
            raise ValidationError(
                f"Give at most {MAX_VALUE_LENGTH} characters, not {len(raw)}."
            )
        # No database's text holds NUL (PostgreSQL refuses the query).
        ProhibitNullCharactersValidator()(raw)
        if self.lookup == "isnull":
            return _boolean(raw)
        if self.lookup in REGEX_LOOKUPS:
            _check_pattern(self.using, self.lookup, raw)
        if self.lookup in TEXT_LOOKUPS:
            return raw
        if self.lookup in LIST_LOOKUPS:
            items = [item.strip() for item in raw.split(",")]
            size = LIST_LOOKUPS[self.lookup]
            if size is not None and len(items) != size:
                raise ValidationError(
                    f"Give {size} comma-separated values, not {len(items)}."
                )
            return [self._scalar(item) for item in items]
        return self._scalar(raw)

    def _scalar(self, raw: str) -> object:
        if raw == "":
            raise ValidationError("Give a value, not an empty one.")
        field = self.field
        if isinstance(field, RelatedField):  # the value is the related key
            field = field.target_field
        if isinstance(field, BooleanField):
            # forms.BooleanField takes any non-false string as True.
            return _boolean(raw)
        formfield = field.formfield()
        if formfield is None:  # AutoField, for one
            value = field.to_python(raw)
        else:
            formfield.required = False
            value = formfield.clean(raw)
        if isinstance(field, IntegerField) and value is not None:
            _check_range(self.using, field, value)
        if isinstance(value, decimal.Decimal):
            _check_numeric(self.using, value)
        if isinstance(value, datetime.datetime) and value.utcoffset() is not None:
            # The same instant, in UTC: PostgreSQL refuses offsets beyond
            # 15:59 that Python takes (an OverflowError near the year's
            # limits is a 400 too).
            value = value.astimezone(datetime.UTC)
        return value


def _check_range(using: str, field: ModelField, value: int) -> None:
    # Beyond the column's range SQLite cannot even bind the value (a 500).
    try:
        low, high = connections[using].ops.integer_field_range(
            field.get_internal_type()
        )
    except KeyError:  # an integer field of another kind: the database decides
        return
    if low is not None and value < low:
        raise ValidationError(f"Give a number of at least {low}.")
    if high is not None and value > high:
        raise ValidationError(f"Give a number of at most {high}.")


# PostgreSQL's numeric holds up to 131072 digits before the decimal point
# and 16383 after; beyond them the query fails ("value overflows numeric
# format"). A DecimalField with no max_digits (Django 6.1) takes any decimal.
NUMERIC_WHOLE_DIGITS = 131072
NUMERIC_PLACES = 16383


def _check_numeric(using: str, value: decimal.Decimal) -> None:
    if connections[using].vendor != "postgresql" or not value:
        return
    if value.adjusted() >= NUMERIC_WHOLE_DIGITS:
        raise ValidationError(
            f"Give a number of at most {NUMERIC_WHOLE_DIGITS} digits before "
            "the decimal point."
        )
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -NUMERIC_PLACES:
        raise ValidationError(
            f"Give a number of at most {NUMERIC_PLACES} digits after the decimal point."
        )


def _check_pattern(using: str, lookup: str, pattern: str) -> None:
    """Refuse a regular expression the database would fail on, as a 400.

    SQLite's ``REGEXP`` is Python's :mod:`re` (``iregex`` prefixes ``(?i)``,
    which is ``re.IGNORECASE``); other databases have their own syntax, so
    the pattern is tried there once, on an empty string, reading no table.
    """
    connection = connections[using]
    if connection.vendor == "sqlite":
        try:
            re.compile(pattern, re.IGNORECASE if lookup == "iregex" else 0)
        except re.error as exc:
            raise ValidationError(f"Not a regular expression: {exc}.") from None
        return
    condition = CharField().get_lookup(lookup)(Value(""), pattern)  # type: ignore[misc]
    compiler = QuerySet().query.get_compiler(connection=connection)
    sql, params = condition.as_sql(compiler, connection)
    suffix = connection.features.bare_select_suffix
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(f"SELECT 1{suffix} WHERE {sql}", params)
    except DataError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValidationError(f"Not a regular expression: {first}.") from None


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValidationError("Give true or false (or 1 or 0).")
