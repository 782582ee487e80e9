"""The demo's workbook: the orders as an Excel download, streamed."""

from __future__ import annotations

from demo.models import Order
from demo.views import OrderExport
from django_streamkit.views import XLSXStreamView


class OrderWorkbook(XLSXStreamView):
    """Every order as typed cells: numbers, dates, labels, notes as plain text
    (a note like "=SUM(A1:A9)" stays text; a workbook has nothing to escape)."""

    # The CSV export's columns, as typed cells.
    model = Order
    fields = OrderExport.fields
    labels = OrderExport.labels
    choices_as_labels = OrderExport.choices_as_labels
    filename = "bookshop-orders.xlsx"
