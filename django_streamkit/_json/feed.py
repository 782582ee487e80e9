"""Items to a :class:`~django_streamkit._writers.json.JSONFeed`, the Django way.

Reads the ``STREAMKIT_*`` settings, picks the encoder (``DjangoJSONEncoder``
by default), and reads ``values()``/``values_list()`` QuerySets a fetched
chunk and a column at a time (:meth:`QuerySetRows.value_batches
<django_streamkit._db.queryset.QuerySetRows.value_batches>`), never through
model instances or their result cache.
"""

from __future__ import annotations

import json
from collections.abc import (
    AsyncIterable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, TypeAlias

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Model, QuerySet
from django.db.models.query import (
    FlatValuesListIterable,
    ModelIterable,
    ValuesIterable,
)

from django_streamkit._db.queryset import QuerySetRows, must_wait
from django_streamkit._writers.json import JSONFeed, JSONFormat, RowWriter, short_repr
from django_streamkit._writers.json_cells import (
    JSON_DATETIMES,
    VALUE_DATETIMES,
    ColumnRows,
)
from django_streamkit.conf import conf

#: What stream_json() encodes: items, sync or async (a QuerySet is one).
Items: TypeAlias = Iterable[Any] | AsyncIterable[Any]
#: An encoder class, as ``JsonResponse`` and ``json.dumps(cls=...)`` take.
Encoder: TypeAlias = type[json.JSONEncoder]


def json_feed(
    items: Items | JSONFeed,
    *,
    encoder: Encoder | None = None,
    envelope: Mapping[str, object] | None = None,
    key: str = "results",
    lines: bool = False,
    keys: Sequence[str] | None = None,
    caller: str = "stream_json()",
) -> JSONFeed:
    """The feed of ``items``. ``keys`` names the columns of a
    ``values_list()`` QuerySet's rows, written as objects with those keys.
    A feed made already (by a view) is returned as it is."""
    if isinstance(items, JSONFeed):
        return items
    cls = DjangoJSONEncoder if encoder is None else encoder
    if not (isinstance(cls, type) and issubclass(cls, json.JSONEncoder)):
        raise TypeError(
            f"{caller} encoder must be a json.JSONEncoder subclass (the class, "
            f"as JsonResponse takes it), not {short_repr(cls)}; for example "
            f"encoder=DjangoJSONEncoder."
        )
    fmt = JSONFormat(
        cls(separators=(",", ":"), ensure_ascii=False),
        lines=lines,
        envelope=envelope,
        key=key,
        chunk_size=conf.CHUNK_SIZE,
        max_latency=conf.MAX_LATENCY,
    )
    if isinstance(items, QuerySet):
        items = json_rows(items, caller=caller)
    if isinstance(items, QuerySetRows):
        wait = must_wait(items)
        rows = _row_writer(items.queryset, fmt, cls, keys)
        # Values as their text only where it is the text Django's encoder
        # writes; another encoder sees the values.
        texts = cls is DjangoJSONEncoder
        batches = items.value_batches(
            finish=rows.column,
            datetimes=JSON_DATETIMES if texts else VALUE_DATETIMES,
            texts=texts,
        )
        if batches is not None:
            return JSONFeed(batches, fmt, head_apart=wait, rows=rows)
        if keys is not None:
            return JSONFeed(_objects(items, keys), fmt, head_apart=wait)
        return JSONFeed(items, fmt, head_apart=wait)
    if isinstance(items, AsyncIterable):
        return JSONFeed(items.__aiter__(), fmt)
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise TypeError(
            f"{caller} items must be an iterable or async iterable of values "
            f"to encode, not {short_repr(items)} ({type(items).__name__}); pass "
            f"a list, a generator or a values() QuerySet"
            + (", or wrap one dict in a list." if isinstance(items, Mapping) else ".")
        )
    return JSONFeed(iter(items), fmt)


def _objects(rows: QuerySetRows, keys: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Rows of cells as objects; a model instance (an admin column's related
    object) as its ``str()``, as the changelist shows it, made here on the
    thread that runs the queries."""
    try:
        for row in rows:
            yield {
                key: str(value) if isinstance(value, Model) else value
                for key, value in zip(keys, row, strict=True)
            }
    finally:
        rows.close()


def json_rows(
    queryset: QuerySet[Model, Any], *, caller: str = "stream_json()"
) -> QuerySetRows:
    """The rows of a ``values()``/``values_list()`` QuerySet, read in chunks
    of ``STREAMKIT_QUERYSET_CHUNK_SIZE``."""
    if issubclass(queryset._iterable_class, ModelIterable):
        model = queryset.model.__name__
        raise TypeError(
            f"{caller} can't encode a QuerySet of {model} instances; pass "
            f"queryset.values('field', ...) (objects) or .values_list(...) "
            f"(arrays), or use django_streamkit.views.JSONStreamView."
        )
    return QuerySetRows(queryset, conf.QUERYSET_CHUNK_SIZE)


def _row_writer(
    queryset: QuerySet[Model, Any],
    fmt: JSONFormat,
    cls: Encoder,
    keys: Sequence[str] | None,
) -> RowWriter:
    names = _names(queryset)
    if keys is None and queryset._iterable_class is ValuesIterable:
        keys = names
    flat = queryset._iterable_class is FlatValuesListIterable
    return ColumnRows(
        fmt.encode,
        django_types=cls is DjangoJSONEncoder,
        keys=keys,
        width=0 if flat else len(names),
        lines=fmt.lines,
    )


def _names(queryset: QuerySet[Model, Any]) -> list[str]:
    # As ValuesIterable names a row's values.
    query = queryset.query
    if selected := getattr(query, "selected", None):
        return list(selected)
    return [*query.extra_select, *query.values_select, *query.annotation_select]
