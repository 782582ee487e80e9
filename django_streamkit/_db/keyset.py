"""Reading a QuerySet in keyset-ordered pages where cursors can't stream.

On PostgreSQL, ``.iterator()`` streams from a server-side cursor. With
``DISABLE_SERVER_SIDE_CURSORS`` (PgBouncer in transaction pooling mode, which
can't keep a cursor across transactions) it fetches the *whole result* into
the client first. There, :func:`read` reads the QuerySet in pages instead:
the QuerySet's own ordering plus the primary key as a tiebreaker, each page
the rows after the last key of the one before (``WHERE (a, pk) > (...)``,
spelled per column so that mixed directions and NULLs keep their places), so
every row comes once, in the order ``.iterator()`` would give them, and the
client holds one page at a time.

Each page is two statements, each its own transaction: the key that ends the
page (an ``OFFSET page_size - 1`` over the keys), then the page's rows
between the two keys, read by whatever reads the QuerySet (the column-wise
reader, Django's iterator), so every format built on
:class:`~django_streamkit._db.queryset.QuerySetRows` is paged the same way.
An index on the ordering keeps each page's statements cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from django.core.exceptions import FieldDoesNotExist
from django.db import connections
from django.db.models import F, Model, Q, QuerySet
from django.db.models.expressions import OrderBy
from django.db.models.lookups import Exact, GreaterThan, IsNull, LessThan

T = TypeVar("T")
logger = logging.getLogger("django_streamkit")

#: Matches no row: a bound that nothing passes.
_NEVER = Q(pk__in=[])


@dataclass(frozen=True)
class Key:
    """One column of the keyset: an expression, its direction, where NULLs go."""

    expression: Any
    descending: bool
    nulls_first: bool
    #: False for a NOT NULL column: no ``IS NULL`` branch, so the bounds
    #: stay an index range (``id > 5 OR id IS NULL`` would scan the table).
    nullable: bool = True

    def equal(self, value: object) -> Q:
        if value is None:
            return Q(IsNull(self.expression, True))
        return Q(Exact(self.expression, value))

    def after(self, value: object) -> Q:
        """Rows strictly after ``value`` in this key's order."""
        if value is None:
            return Q(IsNull(self.expression, False)) if self.nulls_first else _NEVER
        lookup = LessThan if self.descending else GreaterThan
        q = Q(lookup(self.expression, value))
        if self.nulls_first or not self.nullable:
            return q
        return q | Q(IsNull(self.expression, True))

    def before(self, value: object) -> Q:
        """Rows strictly before ``value`` in this key's order."""
        if value is None:
            return _NEVER if self.nulls_first else Q(IsNull(self.expression, False))
        lookup = GreaterThan if self.descending else LessThan
        q = Q(lookup(self.expression, value))
        if self.nulls_first and self.nullable:
            return q | Q(IsNull(self.expression, True))
        return q

    def order(self) -> OrderBy:
        # NULLS FIRST/LAST spelled out, so the order matches the bounds above
        # whatever the direction.
        return OrderBy(
            self.expression,
            descending=self.descending,
            nulls_first=True if self.nulls_first else None,
            nulls_last=True if not self.nulls_first else None,
        )


def needs_pages(queryset: QuerySet[Any, Any]) -> bool:
    """Whether ``.iterator()`` would fetch the whole result into the client."""
    connection = connections[queryset.db]
    return connection.vendor == "postgresql" and bool(
        connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")
    )


def unpageable(queryset: QuerySet[Any, Any]) -> str | None:
    """Why ``queryset`` can't be read in keyset pages, or ``None``."""
    query = queryset.query
    if query.combinator:
        return f"it is a {query.combinator}() of QuerySets"
    if query.is_sliced:
        return "it is sliced"
    if query.distinct or query.distinct_fields:
        return "it is distinct()"
    if query.group_by is not None:
        return (
            "it is grouped (values() with an aggregate): its rows have no "
            "primary key to break ties in the ordering"
        )
    for item in _ordering(queryset):
        if item == "?":
            return "it is ordered at random (order_by('?'))"
        for name in _names_in(item):
            if (reason := _unpageable_path(queryset.model, name, item)) is not None:
                return reason
    return None


def _names_in(item: object) -> list[str]:
    if isinstance(item, str):
        return [item.lstrip("-+")]
    flatten = getattr(item, "flatten", None)
    if flatten is None:
        return []
    return [_name_of(node) for node in flatten() if isinstance(node, F)]


def _unpageable_path(model: type[Model], name: str, item: object) -> str | None:
    # Each filter() on a to-many lookup joins the relation again, so a page's
    # bounds wouldn't apply to the rows the ordering sorts; and a relation
    # named last in a string ordering sorts by its model's Meta.ordering.
    field: Any = None
    for part in name.split("__"):
        if field is not None and not field.is_relation:
            return None  # a transform (published__year)
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None  # an annotation or "pk"
        if field.many_to_many or field.one_to_many:
            return (
                f"it is ordered across the to-many relation {part!r} "
                f"({name!r}), so its rows repeat"
            )
        if field.is_relation and field.related_model is not None:
            model = field.related_model
    related = getattr(field, "related_model", None)
    if isinstance(item, str) and related is not None and related._meta.ordering:
        return (
            f"it is ordered by the relation {item!r}, which Django "
            f"orders by {related.__name__}.Meta.ordering"
        )
    return None


def _field(queryset: QuerySet[Any, Any], item: str) -> Any:
    try:
        return queryset.model._meta.get_field(item.lstrip("-+"))
    except FieldDoesNotExist:
        return None  # a lookup through a relation, or an annotation


def keys(queryset: QuerySet[Any, Any]) -> list[Key]:
    """The QuerySet's ordering, then the primary key unless it is already in."""
    found: list[Key] = []
    names: set[str] = set()
    for item in _ordering(queryset):
        if isinstance(item, str):
            descending = item.startswith("-")
            name = item.lstrip("-+")
            names.add(name)
            found.append(Key(F(name), descending, nulls_first=descending))
        elif isinstance(item, OrderBy):
            descending = item.descending
            nulls_first = bool(item.nulls_first) or (descending and not item.nulls_last)
            names.add(_name_of(item.expression))
            found.append(Key(item.expression, descending, nulls_first))
        else:
            names.add(_name_of(item))
            found.append(Key(item, False, nulls_first=False))
    pk = queryset.model._meta.pk
    assert pk is not None
    if not names & {"pk", pk.name, pk.attname}:
        found.append(Key(F("pk"), False, nulls_first=False))
    if not queryset.query.standard_ordering:
        # .reverse() flips the ordering when the SQL is compiled, not in
        # query.order_by: the keys flip here, and pages() unflips the query.
        found = [
            replace(k, descending=not k.descending, nulls_first=not k.nulls_first)
            for k in found
        ]
    columns = getattr(pk, "field_names", None)  # a CompositePrimaryKey's
    if columns:
        # Compared as one, the pair's bounds are invalid SQL: a key a column.
        found = [
            split
            for key in found
            for split in (
                [replace(key, expression=F(name)) for name in columns]
                if _name_of(key.expression) in {"pk", pk.name}
                else [key]
            )
        ]
    return [_with_nullability(queryset, key) for key in found]


def _with_nullability(queryset: QuerySet[Any, Any], key: Key) -> Key:
    name = _name_of(key.expression)
    if name == "pk":
        return replace(key, nullable=False)
    # A column of the model itself (a lookup through a relation may be an
    # outer join's NULL, an expression anything).
    field = _field(queryset, name) if name else None
    if field is not None and not field.null and not field.is_relation:
        return replace(key, nullable=False)
    if field is not None and field.many_to_one and not field.null:
        return replace(key, nullable=False)
    return key


def _name_of(expression: object) -> str:
    # An F("name") names a column; other expressions are not the primary key.
    return str(getattr(expression, "name", "")) if isinstance(expression, F) else ""


def _ordering(queryset: QuerySet[Any, Any]) -> tuple[Any, ...]:
    query = queryset.query
    if query.order_by:
        return tuple(query.order_by)
    if query.default_ordering:
        return tuple(queryset.model._meta.ordering)
    return ()


def _lexicographic(
    keyset: list[Key], values: tuple[Any, ...], step: Callable[[Key, Any], Q]
) -> Q:
    """Rows on ``step``'s side of ``values``: equal on the first keys, then
    strictly past it on the next."""
    result: Q | None = None
    prefix = Q()
    for key, value in zip(keyset, values, strict=True):
        branch = prefix & step(key, value)
        result = branch if result is None else result | branch
        prefix &= key.equal(value)
    assert result is not None
    return result


def pages(
    queryset: QuerySet[Model, Any], page_size: int
) -> Iterator[QuerySet[Model, Any]]:
    """QuerySets that together hold ``queryset``'s rows, in its order."""
    keyset = keys(queryset)
    ordered = queryset.order_by(*(key.order() for key in keyset))
    if not ordered.query.standard_ordering:
        ordered = ordered.reverse()  # the keys are already the reversed order
    key_values = ordered.values_list(*(key.expression for key in keyset))
    last: tuple[Any, ...] | None = None
    while True:
        rest = ordered
        rest_keys = key_values
        if last is not None:
            after = _lexicographic(keyset, last, Key.after)
            rest, rest_keys = ordered.filter(after), key_values.filter(after)
        bound = next(iter(rest_keys[page_size - 1 : page_size]), None)
        if bound is None:
            yield rest
            return
        upto = _lexicographic(keyset, bound, Key.before) | _all_equal(keyset, bound)
        yield rest.filter(upto)
        last = bound


def _all_equal(keyset: list[Key], values: tuple[Any, ...]) -> Q:
    result = Q()
    for key, value in zip(keyset, values, strict=True):
        result &= key.equal(value)
    return result


#: A page is this many fetches (``STREAMKIT_QUERYSET_CHUNK_SIZE`` rows each):
#: the client holds one page, and each page costs two statements.
PAGE_CHUNKS = 5


def read(
    queryset: QuerySet[Model, Any],
    chunk_size: int,
    rows: Callable[[QuerySet[Model, Any]], Iterator[T]],
) -> Iterator[T]:
    """``rows(queryset)``, page by page (of ``PAGE_CHUNKS * chunk_size`` rows)
    where the database can't stream it."""
    if not needs_pages(queryset):
        yield from rows(queryset)
        return
    if (reason := unpageable(queryset)) is not None:
        logger.warning(UNPAGEABLE, queryset.model.__name__, queryset.db, reason)
        yield from rows(queryset)
        return
    for page in pages(queryset, chunk_size * PAGE_CHUNKS):
        yield from rows(page)


UNPAGEABLE = (
    "A %s QuerySet on database %r, which has DISABLE_SERVER_SIDE_CURSORS, "
    "is read whole into memory: it can't be read in keyset pages because %s. "
    "Order it by unique columns (or add the primary key), or stream it from "
    "a database alias that allows server-side cursors."
)
