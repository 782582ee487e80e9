"""The demo's workbook: the orders as an Excel download, streamed."""

from __future__ import annotations

from demo.models import Order
from django_streamkit.views import XLSXStreamView


class OrderWorkbook(XLSXStreamView):
    """Every order as typed cells: numbers, dates, labels, notes as plain text
    (a note like "=SUM(A1:A9)" stays text; a workbook has nothing to escape)."""

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
        "note",
    ]
    labels = {"book__title": "Book", "book__author__name": "Author"}
    choices_as_labels = ["status"]
    filename = "bookshop-orders.xlsx"
