"""The demo's views: three classic streaming examples and one class-based view of
each kind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import django
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language

from demo import broadcast, live
from demo.management.commands.demo_user import PASSWORD, USERNAME
from demo.models import Author, Book, Order
from django_streamkit import (
    StreamingCSVResponse,
    StreamingResponse,
    current_request,
    stream_with_context,
)
from django_streamkit.conf import conf
from django_streamkit.views import CSVStreamView, StreamingView, TemplateStreamView

FEATURES = [
    {
        "title": "CSV exports",
        "text": "StreamingCSVResponse and CSVStreamView: values_list() read with "
        ".iterator(), labels from verbose_name, choices by their labels, "
        "formula injection escaped, an RFC 5987 filename.",
        "links": [
            {
                "url": "/orders.csv",
                "label": "/orders.csv",
                "how": "CSVStreamView over 200,000 orders",
            },
            {
                "url": "/books.csv",
                "label": "/books.csv",
                "how": "StreamingCSVResponse from a generator",
            },
            {
                "url": "/orders.xlsx",
                "label": "/orders.xlsx",
                "how": "XLSXStreamView: the same orders as an Excel workbook",
            },
            {
                "url": "/orders.json",
                "label": "/orders.json",
                "how": "JSONStreamView: the same orders as one JSON document",
            },
            {
                "url": "/orders.json?format=ndjson",
                "label": "/orders.json?format=ndjson",
                "how": "the same as JSON Lines, one order per line",
            },
        ],
    },
    {
        "title": "Exports and the admin",
        "text": "Registered CSV exports mounted with one include(), permission "
        "checks and validated filters; an Export CSV button on the admin's "
        "changelists. Sign in first, as shown above.",
        "links": [
            {
                "url": "/exports/",
                "label": "/exports/",
                "how": "the export index (streamed)",
            },
            {
                "url": "/exports/demo-order.csv?status=paid",
                "label": "/exports/demo-order.csv?status=paid",
                "how": "a filtered export",
            },
            {
                "url": "/admin/demo/order/",
                "label": "/admin/demo/order/",
                "how": "changelist with Export CSV",
            },
        ],
    },
    {
        "title": "Streamed Jinja2 pages",
        "text": "Template.stream() with enable_buffering(), the context Django's "
        "Jinja2 backend builds (request, CSRF, context processors), rows read "
        "lazily from the database.",
        "links": [
            {
                "url": "/my-large-page.html",
                "label": "/my-large-page.html",
                "how": "TemplateStreamView, 50,000 orders",
            },
        ],
    },
    {
        "title": "Request-scoped generators",
        "text": "stream_with_context keeps the request, its contextvars, the "
        "active language and time zone alive while the body is iterated.",
        "links": [
            {
                "url": "/stream?name=World",
                "label": "/stream?name=World",
                "how": "stream_with_context greets you by name",
            },
            {
                "url": "/clock",
                "label": "/clock",
                "how": "StreamingView, an async generator",
            },
        ],
    },
    {
        "title": "Safe CSV, side by side",
        "text": "The same 200,000 orders twice. Some customers typed notes such "
        'as "=SUM(A1:A9)" or "deliver, after 6 pm". Open both files in a '
        "spreadsheet and compare.",
        "links": [
            {
                "url": "/large.csv",
                "label": "/large.csv",
                "how": "safe: StreamingCSVResponse quotes every cell and "
                "escapes formulas",
            },
            {
                "url": "/large-naive.csv",
                "label": "/large-naive.csv",
                "how": "naive: what hand-joined CSV gives: broken rows, live formulas",
            },
        ],
    },
]


FEATURES.append(live.FEATURE)
FEATURES.append(broadcast.FEATURE)


def index(request: HttpRequest) -> HttpResponse:
    counts = {
        "authors": f"{Author.objects.count():,}",
        "books": f"{Book.objects.count():,}",
        "orders": f"{Order.objects.count():,}",
    }
    return render(
        request,
        "demo/index.html",
        {
            "counts": counts,
            "features": FEATURES,
            "login": {
                "username": USERNAME,
                "password": PASSWORD,
                "url": "/admin/login/?next=/exports/",
            },
            "server": request.META.get("SERVER_SOFTWARE", "ASGI"),
            "django_version": django.get_version(),
        },
        using="django",
    )


LARGE_CSV_HEADER = ["id", "created", "customer", "title", "quantity", "total"]
LARGE_CSV_HEADER += ["status", "note"]


def iter_all_rows() -> Iterator[list[str]]:
    """Every order as a list of strings, read in chunks (never all at once)."""
    rows = Order.objects.values_list(
        "id",
        "created",
        "customer",
        "book__title",
        "quantity",
        "total",
        "status",
        "note",
    ).iterator(chunk_size=2000)
    for order_id, created, customer, title, quantity, total, status, note in rows:
        yield [
            str(order_id),
            created.isoformat(),
            customer,
            title,
            str(quantity),
            str(total),
            status,
            note,
        ]


def large_csv(request: HttpRequest) -> StreamingCSVResponse:
    """Every order as CSV: quoted where needed, formulas escaped."""
    return StreamingCSVResponse(iter_all_rows(), header=LARGE_CSV_HEADER)


def large_naive_csv(request: HttpRequest) -> StreamingResponse:
    """The same rows joined by hand, for comparison only: never do this.

    ``','.join(row)`` does no quoting, so a note with a comma or a line break
    changes the row's width, and a note starting with ``=`` or ``+`` is a live
    formula in a spreadsheet.
    """

    def generate() -> Iterator[str]:
        yield ",".join(LARGE_CSV_HEADER) + "\n"
        for row in iter_all_rows():
            yield f"{','.join(row)}\n"

    return StreamingResponse(generate(), content_type="text/csv")


class LargePage(TemplateStreamView):
    """A big table, streamed while it renders."""

    template_name = "demo/my_large_page.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        limit = _positive_int(self.request.GET.get("rows"), default=50_000)
        orders = Order.objects.select_related("book").order_by("id")[:limit]
        context.update(
            rows=orders,  # an unevaluated QuerySet: read with .iterator()
            count=f"{min(limit, Order.objects.count()):,}",
            buffer_size=self.buffer_size or conf.TEMPLATE_BUFFER_SIZE,
        )
        return context


def _positive_int(value: str | None, *, default: int) -> int:
    try:
        number = int(value or default)
    except ValueError:
        return default
    return number if number > 0 else default


def stream(request: HttpRequest) -> StreamingResponse:
    """The generator reads the request while it runs."""

    @stream_with_context
    def generate() -> Iterator[str]:
        yield "Hello "
        yield current_request.GET.get("name", "World")
        yield "!\n"

    return StreamingResponse(generate(), content_type="text/plain")


class Clock(StreamingView):
    """A class-based view whose async generator method is the body: one line a
    second, in the visitor's language and time zone, for ten seconds."""

    content_type = "text/plain; charset=utf-8"

    async def stream(self, request: HttpRequest) -> AsyncIterator[str]:
        yield f"Streaming to {request.META.get('REMOTE_ADDR')}, ten ticks:\n"
        for tick in range(1, 11):
            now = timezone.localtime()
            yield f"{tick:2d}  {now:%H:%M:%S %Z}  (language {get_language()})\n"
            await asyncio.sleep(1)


class OrderExport(CSVStreamView):
    """Every order, across relations, with choice labels and a download name."""

    model = Order
    fields = [
        "id",
        "created",
        "customer",
        "email",
        "book__title",
        "book__author__name",
        "quantity",
        "total",
        "status",
        "note",  # some notes start with "=" or "+": escaped for spreadsheets
    ]
    labels = {"book__title": "Book", "book__author__name": "Author"}
    choices_as_labels = ["status"]
    filename = "bookshop-orders.csv"


def books_csv(request: HttpRequest) -> StreamingCSVResponse:
    """A generator of rows, typed values and all, as a download."""

    def rows() -> Iterator[tuple[Any, ...]]:
        books = Book.objects.values_list(
            "isbn", "title", "author__name", "published", "pages", "price", "in_stock"
        )
        yield from books.iterator(chunk_size=2000)

    return StreamingCSVResponse(
        rows(),
        header=["ISBN", "Title", "Author", "Published", "Pages", "Price", "In stock"],
        filename="bookshop-books-€.csv",
        bom=True,
    )
