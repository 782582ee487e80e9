from __future__ import annotations

from django.contrib import admin

from demo.models import Author, Book, Order
from django_streamkit.admin import StreamingCSVExportMixin


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ["name", "country", "born"]
    search_fields = ["name"]
    list_filter = ["country"]


@admin.register(Book)
class BookAdmin(StreamingCSVExportMixin, admin.ModelAdmin):
    # Export CSV writes these columns as the changelist shows them: the
    # author's name, the genre's label, the method's value (read with the
    # author joined in, a query per 2,000 rows); csv_export_raw = True would
    # write the stored values (the author's id, "fic").
    list_display = [
        "title",
        "author",
        "author_country",
        "genre",
        "published",
        "price",
        "in_stock",
    ]
    list_filter = ["genre", "in_stock"]
    search_fields = ["title", "isbn"]
    list_select_related = ["author"]
    raw_id_fields = ["author"]

    @admin.display(description="country", ordering="author__country")
    def author_country(self, book: Book) -> str:
        return book.author.country


@admin.register(Order)
class OrderAdmin(StreamingCSVExportMixin, admin.ModelAdmin):
    list_display = ["id", "created", "customer", "book", "quantity", "total", "status"]
    list_filter = ["status"]
    search_fields = ["customer", "email"]
    list_select_related = ["book"]
    raw_id_fields = ["book"]
    date_hierarchy = "created"
    export_formats = ("csv", "xlsx", "json", "ndjson")
    # The button and the action export these (default: list_display's fields).
    csv_export_fields = [
        "id",
        "created",
        "customer",
        "email",
        "book__title",
        "quantity",
        "total",
        "status",
    ]
