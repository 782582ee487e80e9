"""The demo's views: the seed's three examples and one class-based view of each kind."""

from __future__ import annotations

from collections.abc import Iterator

import django
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from demo.models import Author, Book, Order
from django_streamkit import StreamingResponse

FEATURES = [
    {
        "title": "The streaming core",
        "text": "StreamingResponse over any sync or async iterable: coalesced "
        "64 KiB chunks, the first byte at once, cleanup on disconnect.",
        "links": [
            {
                "url": "/large.csv",
                "label": "/large.csv",
                "how": "the seed's example, 200,000 orders",
            },
        ],
    },
]


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
            "server": request.META.get("SERVER_SOFTWARE", "ASGI"),
            "django_version": django.get_version(),
        },
        using="django",
    )


def iter_all_rows() -> Iterator[list[str]]:
    """Every order as a list of strings, read in chunks (never all at once)."""
    rows = Order.objects.values_list(
        "id", "created", "customer", "book__title", "quantity", "total", "status"
    ).iterator(chunk_size=2000)
    for order_id, created, customer, title, quantity, total, status in rows:
        yield [
            str(order_id),
            created.isoformat(),
            customer,
            title,
            str(quantity),
            str(total),
            status,
        ]


def large_csv(request: HttpRequest) -> StreamingResponse:
    """The seed's first example, as written there, on the streaming core.

    Its naive ``','.join(row)`` does no quoting; ``StreamingCSVResponse`` is
    the safe way to write CSV.
    """

    def generate() -> Iterator[str]:
        yield "id,created,customer,title,quantity,total,status\n"
        for row in iter_all_rows():
            yield f"{','.join(row)}\n"

    return StreamingResponse(generate(), content_type="text/csv")
