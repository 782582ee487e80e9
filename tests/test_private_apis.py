"""The private Django, asgiref and psycopg APIs streamkit relies on, one test each.

Each test names the module of ours that uses the API and what it buys, and
asserts the shape used: that it exists, its signature, and what a tiny call
does. An upgrade that changes one fails here, by name, instead of making a
fast path fall back silently (or crash in the middle of a response). Where
our code has a fallback for a missing API, the test asserts the fallback is
not taken.
"""

from __future__ import annotations

import datetime
import decimal
import inspect
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

import asgiref.local
import django
import jinja2
import psycopg
import pytest
from django.contrib.admin.sites import site as admin_site
from django.contrib.auth.models import User
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import connections, transaction
from django.db.models import Count, F, Func, QuerySet
from django.db.models.expressions import Col, Expression
from django.db.models.functions import ExtractYear
from django.db.models.query import (
    FlatValuesListIterable,
    ModelIterable,
    ValuesIterable,
    ValuesListIterable,
)
from django.db.models.sql.compiler import SQLCompiler
from django.db.models.sql.constants import MULTI
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.middleware.gzip import GZipMiddleware
from django.template import engines
from django.test import RequestFactory
from django.views.debug import ExceptionReporter

from django_streamkit._core import scope as _context
from django_streamkit._db import postgres as _cells_postgres
from django_streamkit._db import sqlite as _cells_sqlite
from django_streamkit._db.sqlite import DECIMAL_CONVERTER, Untyped
from django_streamkit._templating import context as _jinja
from django_streamkit._writers.datetimes import DEFAULT_DATETIMES
from tests.support.databases import each_database
from tests.support.testapp.models import Order, Sample

UTC = datetime.UTC


def parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


@pytest.fixture
def samples() -> list[Sample]:
    day = datetime.date(2024, 5, 1)
    moment = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    return Sample.objects.bulk_create(
        Sample(count=i, day=day, moment=moment, price=decimal.Decimal(i) / 4)
        for i in range(5)
    )


# -- QuerySets: django_streamkit/csv.py, _queryset.py, _lazy.py ---------------


@pytest.mark.django_db
def test_queryset_iterable_class() -> None:
    """``QuerySet._iterable_class`` (csv.py, _queryset.py): tells a
    ``values_list()`` QuerySet (read a column at a time) from model instances
    (refused with a clear error) and from ``values()``/``flat`` (read row by
    row), without running the query."""
    samples = Sample.objects.all()
    assert samples._iterable_class is ModelIterable
    assert samples.values_list("count")._iterable_class is ValuesListIterable
    assert samples.values("count")._iterable_class is ValuesIterable
    flat = samples.values_list("count", flat=True)
    assert flat._iterable_class is FlatValuesListIterable
    assert not issubclass(ValuesListIterable, ModelIterable)


@pytest.mark.django_db
def test_query_names_of_values_rows() -> None:
    """``Query.selected`` (Django 5.2+), else ``extra_select``,
    ``values_select`` and ``annotation_select`` (_json/feed.py): the keys of
    a ``values()`` row, in the order of the fetched columns, as Django's
    ``ValuesIterable`` names them, so JSON writes the rows a column at a
    time with the keys Django would give them."""
    from django_streamkit._json.feed import _names

    queryset = Sample.objects.annotate(twice=F("count") * 2).values("twice", "text")
    Sample.objects.create(count=2, text="a")
    assert _names(queryset) == list(next(iter(queryset)))
    query = queryset.query
    selected = getattr(query, "selected", None)
    if selected is not None:
        assert list(selected) == ["twice", "text"]
    else:
        assert [*query.values_select, *query.annotation_select] == ["text", "twice"]


@pytest.mark.django_db
def test_queryset_result_cache(samples: list[Sample]) -> None:
    """``QuerySet._result_cache`` (_lazy.py): ``None`` until the QuerySet is
    evaluated, so a template's QuerySet is streamed in chunks unless the
    view already has its rows in memory."""
    queryset = Sample.objects.all()
    assert queryset._result_cache is None
    rows = list(queryset)
    assert queryset._result_cache == rows
    assert len(rows) == len(samples)


@pytest.mark.django_db
def test_values_list_iterable_reads_through_results_iter() -> None:
    """``ValuesListIterable`` and ``SQLCompiler.results_iter`` /
    ``execute_sql`` (_db/columns_reader.py): the column reader runs the query as
    ``values_list().iterator()`` does, ``execute_sql(MULTI, chunked_fetch=...,
    chunk_size=...)``, then converts the raw chunks itself; the two must stay
    the same query."""
    source = inspect.getsource(ValuesListIterable.__iter__)
    assert "compiler.results_iter(" in source
    assert "tuple_expected=True" in source
    assert parameters(SQLCompiler.execute_sql) == [
        "self",
        "result_type",
        "chunked_fetch",
        "chunk_size",
    ]
    assert parameters(SQLCompiler.results_iter) == [
        "self",
        "results",
        "tuple_expected",
        "chunked_fetch",
        "chunk_size",
    ]
    assert MULTI == "multi"
    # ... and asks for a server-side cursor only where they are not disabled.
    iterator = "".join(inspect.getsource(QuerySet.iterator).split())
    assert 'settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")' in iterator


@pytest.mark.django_db
def test_compiler_select_col_count_and_converters(samples: list[Sample]) -> None:
    """``SQLCompiler.select``, ``col_count``, ``get_converters()``,
    ``has_composite_fields()`` and ``results_iter(chunks)`` (columns_reader.py):
    after ``execute_sql`` the selected expressions are ``select[:col_count]``
    (first of each triple); ``get_converters`` maps a column index to
    ``(converters, expression)``, each called as ``converter(value,
    expression, connection)``; chunks are lists of row tuples. The reader
    calls ``has_composite_fields`` through a fallback, so it must exist."""
    connection = connections["default"]
    queryset = Sample.objects.order_by("pk").values_list("day", "count", "moment")
    compiler = queryset.query.get_compiler("default")
    chunks = compiler.execute_sql(MULTI, chunked_fetch=True, chunk_size=2)
    fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
    assert compiler.col_count == 3
    assert all(isinstance(field, Col) for field in fields)
    assert callable(compiler.has_composite_fields)
    assert compiler.has_composite_fields(fields) is False
    converters = compiler.get_converters(fields)
    assert set(converters) == {0, 2}  # an integer needs no converter
    convs, expression = converters[0]
    assert expression is fields[0]
    chunks = list(chunks)
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    assert all(type(row) is tuple for chunk in chunks for row in chunk)
    first = chunks[0][0]
    day = first[0]
    for converter in convs:
        day = converter(day, expression, connection)
    assert day == datetime.date(2024, 5, 1)
    rows = list(compiler.results_iter(iter(chunks), tuple_expected=True))
    assert rows == list(queryset.iterator())


def test_query_select_combinator_and_clone() -> None:
    """``Query.select``, ``Query.combinator``, ``Query.clone()`` and
    ``Col.output_field`` (_cells_sqlite.untyped_query): a ``values_list()``
    query selects a tuple of ``Col``; a clone's ``select`` can be replaced
    without touching the original; union queries are left alone."""
    query = Sample.objects.values_list("day", "count").query
    assert type(query.select) is tuple
    assert [col.output_field.name for col in query.select] == ["day", "count"]
    assert query.combinator is None
    clone = query.clone()
    clone.select = (Untyped(query.select[0]), query.select[1])
    assert isinstance(query.select[0], Col)
    union = Sample.objects.values_list("day").union(Sample.objects.values_list("day"))
    assert union.query.combinator == "union"


@pytest.mark.django_db
def test_func_hooks_that_untyped_overrides(samples: list[Sample]) -> None:
    """``Func.template``/``arity``, ``Expression.get_group_by_cols(self)``,
    ``Col.get_db_converters(connection)`` (_cells_sqlite.Untyped): the
    ``+column`` wrapper overrides these to keep the column's converters and
    its GROUP BY, and must override them with the signatures Django calls."""
    assert parameters(Expression.get_group_by_cols) == ["self"]
    assert parameters(Col.get_db_converters) == ["self", "connection"]
    assert Func.template == "%(function)s(%(expressions)s)"
    assert "arity" in vars(Func)
    query = (
        Sample.objects.values("day")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("day", "n")
        .query
    )
    untyped = _cells_sqlite.untyped_query(query, skip=())
    assert isinstance(untyped.select[0], Untyped)
    sql, _ = untyped.get_compiler("default").as_sql()
    assert '+"testapp_sample"."day"' in sql
    assert 'GROUP BY "testapp_sample"."day"' in sql


def test_query_annotations_and_meta_concrete_fields() -> None:
    """``Query.annotations`` and ``Options.concrete_fields`` (_columns.py):
    a CSV column may name an annotation, and ``fields = "__all__"`` is the
    model's concrete fields, in order."""
    queryset = Sample.objects.annotate(double=F("count") * 2)
    assert list(queryset.query.annotations) == ["double"]
    names = [field.name for field in Sample._meta.concrete_fields]
    assert names[:3] == ["id", "text", "size"]


def test_query_lookup_resolution() -> None:
    """``Query.chain()``, ``solve_lookup_type()``, ``resolve_ref()`` and
    ``try_transform()`` (_filters.Filter.resolve): an export filter key is
    resolved as ``QuerySet.filter()`` would, to the field its value is
    parsed with."""
    query = Order.objects.all().query.chain()
    lookups, parts, expression = query.solve_lookup_type("customer__name__icontains")
    assert (list(lookups), list(parts), expression) == (
        ["icontains"],
        ["customer", "name"],
        False,
    )
    lhs = query.resolve_ref("created")
    assert lhs.output_field is Order._meta.get_field("created")
    year = query.try_transform(lhs, "year")
    assert isinstance(year, ExtractYear)
    annotated = Order.objects.annotate(n=Count("id")).query.chain()
    assert annotated.solve_lookup_type("n__gte")[2] is not False


# -- database connections: _queryset.py, _filters.py, _cells_*.py -------------


@pytest.mark.parametrize("alias", each_database())
def test_connection_attributes(alias: str) -> None:
    """``connection.in_atomic_block``, ``features.can_use_chunked_reads``,
    ``timezone``, ``timezone_name``, ``ops.integer_field_range()`` and
    ``features.bare_select_suffix`` (_queryset.py, _cells_*.py,
    _filters.py): where the query runs in a transaction of its own, whether
    datetimes can skip Django's per-value conversion (UTC only), and the
    range checks that make bad filter values a 400."""
    connection = connections[alias]
    assert connection.in_atomic_block is True  # the test's transaction
    assert connection.features.can_use_chunked_reads is True
    assert connection.timezone_name == "UTC"
    assert connection.timezone.utcoffset(None) == datetime.timedelta(0)
    low, high = connection.ops.integer_field_range("BigIntegerField")
    assert (low, high) == (-(2**63), 2**63 - 1)
    # Another kind of integer field: SQLite's 64 bits, else a KeyError.
    if connection.vendor == "sqlite":
        assert connection.ops.integer_field_range("NoSuchField") == (low, high)
    else:
        with pytest.raises(KeyError):
            connection.ops.integer_field_range("NoSuchField")
    assert isinstance(connection.features.bare_select_suffix, str)


@pytest.mark.django_db
def test_sqlite_converters_are_the_ops_methods(samples: list[Sample]) -> None:
    """``DatabaseOperations.convert_datefield_value`` /
    ``convert_datetimefield_value`` (_cells_sqlite.fast_converter): a SQLite
    date or datetime column's only converter is the bound method itself,
    which is how the fast shapes recognise it; dates parse ISO text,
    datetimes come out aware in the connection's time zone."""
    connection = connections["default"]
    query = Sample.objects.values_list("day", "moment").query
    day, moment = query.select
    assert connection.ops.get_db_converters(day) + day.get_db_converters(
        connection
    ) == [connection.ops.convert_datefield_value]
    assert connection.ops.get_db_converters(moment) + moment.get_db_converters(
        connection
    ) == [connection.ops.convert_datetimefield_value]
    convert_date = connection.ops.convert_datefield_value
    assert convert_date("2024-05-01", day, connection) == datetime.date(2024, 5, 1)
    naive = datetime.datetime(2024, 5, 1, 12, 30)
    aware = connection.ops.convert_datetimefield_value(naive, moment, connection)
    assert aware == naive.replace(tzinfo=UTC)
    assert str(aware) == str(naive) + "+00:00"


@pytest.mark.django_db
def test_sqlite_driver_parses_declared_types(samples: list[Sample]) -> None:
    """Django's SQLite connection parses columns declared ``date`` and
    ``datetime`` in the driver (``detect_types`` and its registered
    converters); ``+column`` gets the stored text instead
    (_cells_sqlite.untyped_query), which the fast shapes read without a
    per-value Python call."""
    table = Sample._meta.db_table
    with connections["default"].cursor() as cursor:
        cursor.execute(f"SELECT day, +day, moment, +moment FROM {table} LIMIT 1")
        day, day_text, moment, moment_text = cursor.fetchone()
    assert day == datetime.date(2024, 5, 1)
    assert day_text == "2024-05-01"
    assert moment == datetime.datetime(2024, 5, 1, 12, 30)
    assert moment_text == "2024-05-01 12:30:00"


def test_sqlite_decimal_converter() -> None:
    """SQLite's ``get_decimalfield_converter()`` (_cells_sqlite): a closure
    recognised by its qualified name, which for a column of a field with
    ``decimal_places`` rounds the stored float to 15 digits, then quantizes
    (the shape ``_sqlite_decimals`` reproduces); with no
    ``decimal_places`` (Django 6.1's ``DecimalField()``) it only rounds."""
    connection = connections["default"]
    price, loose = Sample.objects.values_list("price", "loose").query.select
    converter = connection.ops.get_decimalfield_converter(price)
    assert converter.__qualname__ == DECIMAL_CONVERTER
    assert converter(1.015, price, connection) == decimal.Decimal("1.02")
    assert str(converter(0.1 + 0.2, price, connection)) == "0.30"
    assert str(converter(5, price, connection)) == "5.00"
    plain = connection.ops.get_decimalfield_converter(loose)
    assert plain.__qualname__ == DECIMAL_CONVERTER
    if django.VERSION >= (6, 1):
        assert Sample._meta.get_field("loose").decimal_places is None
        assert str(plain(0.1, loose, connection)) == "0.100000000000000"
    else:
        assert str(plain(0.1, loose, connection)) == "0.10000000000000000000"


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"])
def test_execute_wrapper_reaches_the_psycopg_cursor() -> None:
    """``CursorWrapper.cursor`` and psycopg's ``Cursor.adapters``,
    ``AdaptersMap.register_loader()`` / ``types[name].oid`` and
    ``description[i].type_code`` (_cells_postgres.Loaders): inside an execute
    wrapper, the query's own psycopg cursor (a server-side one for chunked
    reads) takes loaders for this query only. ``Loaders`` passes the query
    through untouched when any of these is missing; here it must not."""
    connection = connections["postgres"]
    Sample.objects.using("postgres").bulk_create(Sample(count=i) for i in range(3))
    seen: dict[str, Any] = {}

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen["cursor"] = context["cursor"].cursor
        return execute(sql, params, many, context)

    query = Sample.objects.using("postgres").values_list("count", "price", "day")
    compiler = query.query.get_compiler("postgres")
    loaders = _cells_postgres.Loaders(connection, True, DEFAULT_DATETIMES)
    with transaction.atomic(using="postgres"):
        with connection.execute_wrapper(spy), connection.execute_wrapper(loaders):
            chunks = compiler.execute_sql(MULTI, chunked_fetch=True, chunk_size=10)
        rows = [row for chunk in chunks for row in chunk]
    assert isinstance(seen["cursor"], psycopg.ServerCursor)
    adapters = seen["cursor"].adapters
    assert isinstance(adapters, psycopg.adapt.AdaptersMap)
    assert parameters(adapters.register_loader) == ["oid", "loader"]
    assert adapters.types["numeric"].oid == 1700
    assert sorted(loaders.columns) == [0, 1, 2], "the fast path was taken"
    assert sorted(row[0] for row in rows) == ["0", "1", "2"]  # loaded as text


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"])
def test_psycopg_loaders_and_djangos_timestamptz_loader() -> None:
    """``psycopg.types.datetime.DateLoader`` / ``TimestamptzLoader`` and
    ``psycopg.types.string.TextLoader``, ``Loader(oid, context).load()``,
    and Django's timestamptz loader (_cells_postgres): Django loads a
    timestamptz as psycopg does, then sets ``tzinfo`` to the connection's
    time zone, so psycopg's own loader (its C version, swapped in on
    registration) plus that ``replace`` gives Django's values."""
    from psycopg.adapt import Loader
    from psycopg.pq import Format
    from psycopg.types.datetime import DateLoader, TimestamptzLoader
    from psycopg.types.string import TextLoader

    connection = connections["postgres"]
    connection.ensure_connection()
    raw = connection.connection
    assert isinstance(raw, psycopg.Connection)
    for loader_class in (DateLoader, TimestamptzLoader, TextLoader):
        assert issubclass(loader_class, Loader)
        assert parameters(loader_class) == ["oid", "context"]
    types = raw.adapters.types
    oid = types["timestamptz"].oid
    django_loader = raw.adapters.get_loader(oid, Format.TEXT)(oid, raw)
    psycopg_loader = TimestamptzLoader(oid, raw)
    for text in (b"2024-01-01 10:00:00+00", b"2024-01-01 10:00:00.5+00"):
        ours = psycopg_loader.load(text).replace(tzinfo=connection.timezone)
        theirs = django_loader.load(text)
        assert (ours, ours.tzinfo) == (theirs, theirs.tzinfo)
    date_oid = types["date"].oid
    assert DateLoader(date_oid, raw).load(b"2024-05-01") == datetime.date(2024, 5, 1)
    assert TextLoader(types["numeric"].oid, raw).load(b"1.50") == "1.50"
    # psycopg swaps in its C loader for the Python class registered.
    assert psycopg.pq.__impl__ in ("binary", "c")
    with raw.cursor() as cursor:
        cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        fast = cursor.adapters.get_loader(oid, Format.TEXT)
    assert fast is not TimestamptzLoader
    assert fast.__module__.startswith(("psycopg_binary", "psycopg_c"))


# -- asgiref: django_streamkit/_core/scope.py ------------------------------------


def test_asgiref_local_storage_and_rehome() -> None:
    """``asgiref.local._Storage`` and ``_rehome(storage)`` (_context.py): an
    asgiref ``Local`` (Django's translations, time zone, database
    connections' bookkeeping) keeps its value in a context variable tagged
    with the thread that set it; a streamed step run in the request's
    context on another thread re-homes it there, or the request's language
    and time zone vanish. ``_context`` skips this if the import fails; here
    the import must work."""
    from asgiref.local import _rehome, _Storage

    assert _context._rehome is _rehome
    assert _context._Storage is _Storage
    assert parameters(_rehome) == ["storage"]
    local = asgiref.local.Local()
    local.value = "request"
    scope = _context.Scope()
    del local.value
    seen: list[object] = []

    def read() -> object:
        return getattr(local, "value", None)

    def elsewhere() -> None:
        seen.append(scope.context.run(read))  # tagged with the first thread
        scope.move_here()
        seen.append(scope.context.run(read))

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join(5)
    assert seen == [None, "request"]
    storages = [v for v in scope.context.values() if type(v) is _Storage]
    assert storages
    assert all(s.thread_id == thread.ident for s in storages)


# -- HTTP responses: django_streamkit/responses.py, middleware.py -------------


def test_response_resource_closers() -> None:
    """``HttpResponseBase._resource_closers`` (responses.py): the list of
    callables ``close()`` calls, which the WSGI server calls when the body
    ends or the client leaves; the response registers the source's cleanup
    there."""
    closed: list[str] = []
    response = HttpResponseBase()
    assert response._resource_closers == []
    response._resource_closers.append(lambda: closed.append("source"))
    response.close()
    assert closed == ["source"]


def test_handlers_register_the_request_close_among_the_closers() -> None:
    """``BaseHandler.get_response`` and ``get_response_async`` append
    ``request.close`` to ``response._resource_closers``
    (_events/response.py): how an event stream returned by a function view
    learns that it answers a HEAD request, under WSGI and ASGI."""
    import asyncio

    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.base import BaseHandler

    factory = RequestFactory()
    for is_async in (False, True):
        handler = BaseHandler()
        handler.load_middleware(is_async=is_async)
        request = factory.head("/healthz")
        if is_async:
            response = asyncio.run(handler.get_response_async(request))
        else:
            response = handler.get_response(request)
        owners = [getattr(c, "__self__", None) for c in response._resource_closers]
        assert request in owners
        response.close()
    assert ASGIHandler.get_response_async is BaseHandler.get_response_async


def test_streaming_response_set_streaming_content_hook() -> None:
    """``StreamingHttpResponse._set_streaming_content(value)`` (responses.py):
    the hook the constructor and the ``streaming_content`` setter both go
    through, where the content is normalised once and its cleanup
    registered."""
    seen: list[object] = []

    class Spy(StreamingHttpResponse):
        def _set_streaming_content(self, value: Any) -> None:
            seen.append(value)
            super()._set_streaming_content(value)

    assert parameters(StreamingHttpResponse._set_streaming_content) == [
        "self",
        "value",
    ]
    first, second = [b"a"], [b"b"]
    response = Spy(first)
    response.streaming_content = second
    assert seen == [first, second]
    assert b"".join(response) == b"b"


def test_lazy_re_compile_and_gzip_max_random_bytes() -> None:
    """``django.utils.regex_helper._lazy_re_compile`` and
    ``GZipMiddleware.max_random_bytes`` (middleware.py): the
    ``Accept-Encoding`` test Django's GZipMiddleware uses, and the random
    padding (against BREACH) our streamed compression adds as Django does."""
    from django.utils.regex_helper import _lazy_re_compile

    accepts = _lazy_re_compile(r"\bgzip\b")
    assert accepts.search("br, gzip;q=0.5")
    assert not accepts.search("xgzip")
    middleware = GZipMiddleware(lambda request: HttpResponse())
    assert isinstance(middleware.max_random_bytes, int)
    assert middleware.max_random_bytes > 0


# -- requests and templates: django_streamkit/_templating/context.py ---------


def test_session_cache_and_request_messages() -> None:
    """``SessionBase._session_cache`` and ``request._messages`` with its
    ``used`` flag (_jinja.AfterHeaders): a template that changes the session
    or shows messages after the headers are out gets a warning; both are
    read without loading anything."""
    request = RequestFactory().get("/")
    SessionMiddleware(lambda request: HttpResponse()).process_request(request)
    MessageMiddleware(lambda request: HttpResponse()).process_request(request)
    messages = request._messages  # type: ignore[attr-defined]
    assert messages.used is False
    list(messages)
    assert messages.used is True
    session = SessionStore()
    session["cart"] = 3
    assert session._session_cache == {"cart": 3}
    assert session.modified is True


def test_jinja2_backend_internals() -> None:
    """Django's Jinja2 backend: ``Template.template``,
    ``Jinja2.template_context_processors``, ``get_exception_info()``,
    ``django.template.backends.utils.csrf_input`` and the debug page's
    ``template_debug`` (_jinja.py): the streamed template is the wrapped
    ``jinja2.Template``, its context is built as the backend builds it, and
    a syntax error shows the template on the debug page."""
    from django.template.backends.utils import csrf_input

    engine = engines["jinja2"]
    template = engine.from_string("{{ site_name }}")
    assert isinstance(template.template, jinja2.Template)
    processors = engine.template_context_processors
    request = RequestFactory().get("/")
    assert {"site_name": "Streamkit tests"}.items() <= processors[0](request).items()
    assert 'name="csrfmiddlewaretoken"' in csrf_input(request)
    with pytest.raises(jinja2.TemplateSyntaxError) as info:
        engine.env.from_string("{% if %}")
    error = _jinja.syntax_error(info.value)
    assert {"line", "message", "source_lines", "during"} <= set(error.template_debug)
    reporter = ExceptionReporter(None, type(error), error, None)
    assert reporter.template_info is error.template_debug


# -- the admin: django_streamkit/admin.py --------------------------------------


@pytest.mark.django_db
def test_admin_changelist_instance_and_page_var() -> None:
    """``ModelAdmin.get_changelist_instance(request)``, ``ChangeList.queryset``
    and ``django.contrib.admin.views.main.PAGE_VAR`` (admin.py): the
    ``export.csv`` view streams the changelist's filtered, searched and
    ordered QuerySet, every page of it."""
    from django.contrib.admin.views.main import PAGE_VAR

    assert PAGE_VAR == "p"
    model_admin = admin_site._registry[Order]
    assert parameters(model_admin.get_changelist_instance) == ["request"]
    request = RequestFactory().get("/admin/testapp/order/", {"status": "paid"})
    request.user = User.objects.create_superuser("admin", password="pw")
    changelist = model_admin.get_changelist_instance(request)
    assert isinstance(changelist.queryset, QuerySet)
    assert changelist.queryset.model is Order
    assert "status" in str(changelist.queryset.query)


def test_a_connection_can_be_lent_to_a_producer_thread() -> None:
    """``responses._borrow_connections``: a sync source's producer thread works with the
    iterating thread's connection (its transaction, the test database), by
    ``BaseDatabaseWrapper.inc_thread_sharing()`` and ``connections[alias] =``,
    as Django's live server tests share theirs."""
    import threading

    from django.db import connections

    connection = connections["default"]
    seen: list[object] = []

    def producer() -> None:
        connection.inc_thread_sharing()
        connections["default"] = connection
        try:
            connection.validate_thread_sharing()
            seen.append(connections["default"])
        finally:
            connection.dec_thread_sharing()

    thread = threading.Thread(target=producer)
    thread.start()
    thread.join()
    assert seen == [connection]
    assert not connection.allow_thread_sharing


def test_stream_zip_ends_an_output_block_at_its_flush_marker() -> None:
    """``_writers/xlsx_zip.Zipper``: a pushed batch of worksheet XML comes out
    of ``stream_zip()`` at once, because the compressor answers the empty
    chunk after it with ``stream_zip._flush``, where stream-zip ends its
    output block (its block size otherwise holds bytes back): the one private
    name of stream-zip used, the price of a pushed ZIP stream."""
    import zlib

    import stream_zip

    assert isinstance(stream_zip._flush, bytes)
    assert len(stream_zip._flush) == 0
    fed: list[bytes] = []

    class Marking:
        def __init__(self) -> None:
            self.deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)

        def compress(self, data: bytes) -> bytes:
            if not data:
                return stream_zip._flush
            return self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)

        def flush(self) -> bytes:
            return self.deflate.flush()

    def chunks() -> Any:
        for part in (b"first batch", b"second batch"):
            fed.append(part)
            yield part
            yield b""

    modified = datetime.datetime(2024, 1, 1)
    blocks = stream_zip.stream_zip(
        [("a.xml", modified, 0o600, stream_zip.ZIP_32, chunks())],
        chunk_size=1 << 62,
        get_compressobj=Marking,
    )
    header = next(blocks)  # the local header ends a block of its own
    assert header.startswith(b"PK\x03\x04")
    assert fed == []
    inflate = zlib.decompressobj(-zlib.MAX_WBITS)
    assert inflate.decompress(next(blocks)) == b"first batch"
    assert fed == [b"first batch"]
    assert inflate.decompress(next(blocks)) == b"second batch"
    assert fed == [b"first batch", b"second batch"]


def test_runserver_keeps_the_socket_reader_behind_wsgi_input() -> None:
    """``_events/watch.client_fileno``: under Django's development server the
    client's socket is only reachable as ``wsgi.input``'s ``LimitedStream``
    ``_read``, the socket reader's bound ``read``; its ``fileno()`` is what
    is watched for the client's close (a stream silent for minutes would
    otherwise hold its thread and source after the client left)."""
    import io
    import socket

    from django.core.handlers.wsgi import LimitedStream

    from django_streamkit._events.watch import client_fileno

    left, right = socket.socketpair()
    with left, right:
        reader = left.makefile("rb")
        stream = LimitedStream(reader, 0)
        assert stream._read.__self__ is reader  # type: ignore[attr-defined]
        assert client_fileno({"wsgi.input": stream}) == left.fileno()
        assert client_fileno({"wsgi.input": io.BytesIO()}) is None


def test_the_servers_sigterm_handlers_say_they_are_stopping() -> None:
    """``_events/watch.server_stopping``: gunicorn's workers and uvicorn's
    server install a bound method as the SIGTERM handler, which sets the
    worker's ``alive`` to False or the server's ``should_exit`` to True; an
    open event stream reads them to end within the grace period."""
    import signal

    from gunicorn.workers.base import Worker
    from gunicorn.workers.gthread import ThreadWorker
    from uvicorn import Config, Server

    from django_streamkit._events.watch import server_stopping

    for worker_class in (Worker, ThreadWorker):
        assert "self.alive = False" in inspect.getsource(worker_class.handle_exit)
    server = Server(Config(app=None))
    assert server.should_exit is False
    worker = object.__new__(Worker)
    worker.alive = True
    previous = signal.signal(signal.SIGTERM, server.handle_exit)
    try:
        assert not server_stopping()
        server.handle_exit(signal.SIGTERM, None)
        assert server_stopping()
        signal.signal(signal.SIGTERM, worker.handle_exit)
        assert not server_stopping()
        worker.handle_exit(signal.SIGTERM, None)
        assert server_stopping()
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_streaming_response_keeps_its_source_iterator() -> None:
    """``_servers/middleware.py``: ``StreamingHttpResponse._iterator`` is the
    iterator ``_set_streaming_content`` made of the content (before
    ``make_bytes``); the ASGI stepping and the WSGI collection read it so that
    closing it runs the source's own ``close()``."""

    def source() -> Iterator[str]:
        yield "a"

    generator = source()
    response = StreamingHttpResponse(generator)
    assert response._iterator is generator  # type: ignore[attr-defined]


def test_a_querys_shape_tells_whether_it_can_be_paged() -> None:
    """``_db/keyset.py``: ``Query.combinator``, ``is_sliced``, ``distinct``,
    ``distinct_fields``, ``group_by``, ``order_by`` and ``default_ordering``
    say whether a QuerySet can be read in keyset pages, and in what order."""
    plain = Order.objects.all().query
    assert plain.combinator is None
    assert plain.is_sliced is False
    assert plain.distinct is False
    assert plain.distinct_fields == ()
    assert plain.group_by is None
    assert plain.order_by == ()
    assert plain.default_ordering is True
    assert Order.objects.all()[:3].query.is_sliced is True
    assert Order.objects.union(Order.objects.all()).query.combinator == "union"
    assert Order.objects.values("status").annotate(n=Count("id")).query.group_by
    assert Order.objects.order_by("-total", F("number")).query.order_by == (
        "-total",
        F("number"),
    )
    assert Order.objects.order_by().query.default_ordering is False


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"])
def test_copy_compiles_and_describes_the_query() -> None:
    """(_db/copy.py) ``SQLCompiler.as_sql()`` gives the values_list() query
    with ``%s`` parameters and ``select[:col_count]`` its columns without
    running it; psycopg's ``cursor.adapters.types`` names a column's type
    by its OID, ``Column.scale`` is a numeric's declared scale, and
    ``info.parameter_status("DateStyle")`` the session's date style. The
    converters COPY accepts are Django's by ``__qualname__``:
    ``BaseExpression.convert_value``'s lambdas and ``TruncBase.convert_value``;
    renamed, every such column would fall back to Python."""
    from django.db.models import DecimalField, ExpressionWrapper
    from django.db.models.functions import TruncDate

    queryset = (
        Sample.objects.using("postgres")
        .annotate(
            twice=ExpressionWrapper(F("count") * 2, output_field=DecimalField()),
            day_of=TruncDate("moment"),
            n=Count("id"),
        )
        .values_list("price", "twice", "day_of", "n")
    )
    compiler = queryset.query.get_compiler("postgres")
    sql, params = compiler.as_sql()
    assert isinstance(sql, str)
    assert sql.count("%s") == len(params)
    assert compiler.col_count == 4
    fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
    converters = compiler.get_converters(fields)
    names = {
        index: [getattr(conv, "__qualname__", "") for conv in convs]
        for index, (convs, _) in converters.items()
    }
    assert names[1][0].startswith("BaseExpression.convert_value")
    assert names[2] == ["TruncBase.convert_value"]
    connection = connections["postgres"]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0", params)
        types = cursor.cursor.adapters.types
        described = [
            (types.get(c.type_code).name, c.scale)  # type: ignore[union-attr]
            for c in cursor.description
        ]
    assert described[0] == ("numeric", 2)
    assert described[2][0] == "date"
    assert described[3][0] == "int8"
    style = connection.connection.info.parameter_status("DateStyle")
    assert isinstance(style, str)
    assert style.startswith("ISO")


def test_a_gunicorn_worker_is_found_and_notified_through_its_sigterm_handler() -> None:
    """``_events/watch.worker_heartbeat``: the SIGTERM handler's owner is a
    ``gunicorn.workers.base.Worker`` whose ``notify()`` (the documented hook
    a worker calls at least every ``--timeout`` seconds) touches its
    ``tmp`` file; nothing is called for another owner (uvicorn's server)."""
    import signal

    from gunicorn.workers.base import Worker
    from gunicorn.workers.sync import SyncWorker
    from uvicorn import Config, Server

    from django_streamkit._events.watch import worker_heartbeat

    assert "self.tmp.notify()" in inspect.getsource(Worker.notify)
    worker = object.__new__(SyncWorker)
    beats: list[int] = []
    worker.tmp = types.SimpleNamespace(notify=lambda: beats.append(1))
    previous = signal.signal(signal.SIGTERM, worker.handle_exit)
    try:
        beat = worker_heartbeat()
        beat()
        beat()  # within a second of the first: not again
        assert beats == [1]
        signal.signal(signal.SIGTERM, Server(Config(app=None)).handle_exit)
        worker_heartbeat()()
        assert beats == [1]
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"])
def test_copy_raises_through_djangos_error_wrapper() -> None:
    """(_db/copy.py, _db/postgres.py) ``connection.wrap_database_errors``,
    the context manager Django's cursors use (around COPY, and around the
    values psycopg loads from the text the column reader fetched), turns a
    psycopg error raised inside it into Django's class of it (the driver's
    as ``__cause__``) and, for errors other than data and integrity errors,
    sets ``errors_occurred`` so the connection is checked at the request's
    end."""
    import psycopg
    from django.db import DataError, OperationalError

    connection = connections["postgres"]
    with pytest.raises(DataError) as raised, connection.wrap_database_errors:
        raise psycopg.errors.DivisionByZero("division by zero")
    assert isinstance(raised.value.__cause__, psycopg.errors.DivisionByZero)
    connection.errors_occurred = False
    with pytest.raises(OperationalError), connection.wrap_database_errors:
        raise psycopg.OperationalError("server closed the connection")
    assert connection.errors_occurred
    connection.errors_occurred = False
