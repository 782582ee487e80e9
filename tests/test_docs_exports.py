"""The examples in docs/exports.md run, and say what the code does."""

from __future__ import annotations

import codecs
import csv
import datetime
import inspect
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client, RequestFactory

from django_streamkit import checks as checks_module
from django_streamkit.exports import CSVExport, registry
from tests.support.docs import blocks, in_test_app, read_doc
from tests.support.registry import registry_restored
from tests.support.testapp.models import Customer, Order

DOC = read_doc("exports.md")
UTC = datetime.UTC


@pytest.fixture
def examples() -> Iterator[dict[str, Any]]:
    """Run the Python examples: exports into an emptied registry, the admin
    into a site of its own."""
    namespace: dict[str, Any] = {"doc_site": admin.AdminSite()}
    with registry_restored(empty=True):
        for source in blocks(DOC, "python"):
            source = in_test_app(source).replace(
                "@admin.register(Order)", "@admin.register(Order, site=doc_site)"
            )
            exec(source, namespace)
        yield namespace


def numbers(response: Any) -> list[str]:
    return [row[0] for row in rows(response)][1:]


def rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content)
    assert body.startswith(codecs.BOM_UTF8)
    text = body.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.django_db
def test_the_examples_run(examples: dict[str, Any], client: Client) -> None:
    assert examples["urlpatterns"][0].pattern.describe() == "'exports/'"
    assert [type(e).__name__ for e in registry] == ["OrderExport", "MyOrderExport"]
    ann = Customer.objects.create(name="ann")
    bob = Customer.objects.create(name="bob")
    for number, customer, status, day in [
        ("1", ann, "paid", datetime.datetime(2023, 12, 30, tzinfo=UTC)),
        ("2", ann, "paid", datetime.datetime(2024, 2, 1, tzinfo=UTC)),
        ("3", bob, "paid", datetime.datetime(2024, 3, 1, tzinfo=UTC)),
        ("4", bob, "new", datetime.datetime(2024, 3, 1, tzinfo=UTC)),
    ]:
        Order.objects.create(
            number=number, customer=customer, status=status, total=1, created=day
        )

    client.force_login(User.objects.create_superuser("bob"))
    url = "/exports/testapp-order.csv?status=paid&created__gte=2024-01-01"
    assert numbers(client.get(url)) == ["2", "3"]
    # As the prose says: the paid orders since New Year.

    client.force_login(User.objects.create_user("ann"))  # no permission at all
    assert numbers(client.get("/exports/my-orders.csv")) == ["1", "2"]
    assert client.get("/exports/testapp-order.csv").status_code == 403

    order_admin = examples["doc_site"]._registry[Order]
    assert order_admin.check() == []
    request = RequestFactory().get("/")
    request.user = User.objects.get(username="bob")
    # As the prose says: what the changelist shows.
    assert rows(order_admin.export_csv_view(request))[:2] == [
        ["Number", "Customer", "Status", "Total"],
        ["1", "ann", "Paid", "1.00"],
    ]


@pytest.mark.django_db
def test_the_400_example_is_what_the_code_answers(
    examples: dict[str, Any], client: Client
) -> None:
    (example,) = [b for b in blocks(DOC, "text") if "Bad value" in b]
    client.force_login(User.objects.create_superuser("root"))
    response = client.get("/exports/testapp-order.csv?status=bogus")
    assert response.status_code == 400
    assert response.content.decode() == example.strip()


def test_every_check_id_is_documented_as_in_checks_py() -> None:
    documented = re.findall(r"^\| `(streamkit\.[EW]0[45]\d)` \| (.+?) \|$", DOC, re.M)
    listed = re.findall(
        r"^(streamkit\.[EW]0[45]\d)  ", checks_module.__doc__ or "", re.M
    )
    assert [check_id for check_id, _ in documented] == listed
    assert len(listed) == 13


def test_every_export_attribute_is_documented() -> None:
    attributes = {
        name
        for name, value in vars(CSVExport).items()
        if not name.startswith("_") and not inspect.isfunction(value)
    }
    first_cells = re.findall(r"^\| (`[^|]+) \|", DOC, re.M)
    names = {name for cell in first_cells for name in re.findall(r"`(\w+)`", cell)}
    assert "view_class" in attributes
    assert attributes - names == set()
