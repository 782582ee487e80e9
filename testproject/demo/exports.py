"""The bookshop's downloads, listed at /exports/ for the users allowed to use them."""

from __future__ import annotations

from demo.models import Book, Order
from django_streamkit.exports import CSVExport, register


@register
class OrderExport(CSVExport):
    model = Order
    title = "Orders"
    description = "Every order with its book and author; filter by status or date."
    fields = [
        "id",
        "created",
        "customer",
        "book__title",
        "book__author__name",
        "quantity",
        "total",
        "status",
    ]
    labels = {"book__title": "Book", "book__author__name": "Author"}
    choices_as_labels = ["status"]
    filter_fields = ["status", "created__gte", "created__lt", "total__gte"]
    filename = "orders.csv"
    formats = ("csv", "xlsx", "json", "ndjson")


@register
class BookExport(CSVExport):
    model = Book
    title = "Books"
    description = "The catalogue; filter by genre or stock."
    fields = ["isbn", "title", "author__name", "genre", "published", "pages", "price"]
    labels = {"author__name": "Author"}
    choices_as_labels = True
    filter_fields = ["genre", "in_stock", "published__gte"]
