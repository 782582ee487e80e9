"""Exports of the test app, found by django_streamkit's autodiscovery."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet
from django.http import HttpRequest

from django_streamkit.exports import CSVExport, register
from tests.support.testapp.models import Customer, Order


@register
class OrderExport(CSVExport):
    model = Order
    fields = ["number", "customer__name", "status", "total", "created"]
    labels = {"customer__name": "Customer"}
    description = "Every order, with its customer."
    filter_fields = [
        "status",
        "status__in",
        "created__gte",
        "created__lt",
        "created__year",
        "customer",
        "customer__name__icontains",
        "gift",
        "total__gte",
        "shipped__isnull",
    ]


@register
class PaidOrderExport(CSVExport):
    slug = "paid-orders"
    title = "Paid orders"
    queryset = Order.objects.filter(status=Order.Status.PAID)
    fields = ["number", "total"]
    filename = "paid.csv"
    permission_required = ()  # any signed-in user


@register
class CustomerExport(CSVExport):
    model = Customer
    fields = ["name", "n_orders"]
    labels = {"n_orders": "Orders"}
    filter_fields = ["n_orders__gte", "name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer, Any]:
        return Customer.objects.annotate(n_orders=Count("orders")).order_by("name")
