from __future__ import annotations

from django.contrib import admin

from django_streamkit.admin import StreamingCSVExportMixin
from tests.support.testapp.models import Book, Order


@admin.register(Order)
class OrderAdmin(StreamingCSVExportMixin, admin.ModelAdmin):
    list_display = ["number", "customer", "status", "total", "gift", "summary"]
    list_filter = ["status", "gift"]
    search_fields = ["number", "customer__name"]
    list_per_page = 2  # so the export is seen to span every page

    @admin.display(description="summary")
    def summary(self, obj: Order) -> str:
        return f"{obj.number}: {obj.total}"


@admin.register(Book)
class BookAdmin(StreamingCSVExportMixin, admin.ModelAdmin):
    list_display = ["title", "author__name", "genre"]
    csv_export_fields = ["title", "author__name", "price"]
    csv_export_labels = {"author__name": "Author"}
    csv_export_filename = "books.csv"
