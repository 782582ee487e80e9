"""The examples in docs/csv.md run, and say what the code does."""

from __future__ import annotations

import csv
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from django_streamkit import stream_csv
from django_streamkit._http import content_disposition
from tests.support.docs import blocks, read_doc, run_examples
from tests.support.testapp.models import Author, Book

DOC = read_doc("csv.md")


@pytest.fixture
def examples() -> dict[str, Any]:
    return run_examples(DOC)


@pytest.mark.django_db
def test_the_python_examples_run(examples: dict[str, Any]) -> None:
    author = Author.objects.create(name="Ann")
    Book.objects.create(title="First", author=author, genre="novel", rating=3)
    request = RequestFactory().get("/")

    report = examples["report"](request)
    assert report["Content-Disposition"].startswith('attachment; filename="report.csv"')
    body = b"".join(report)
    assert body.startswith(b"n,label,half\r\n0,row 0,0.0\r\n")
    assert body.count(b"\r\n") == 1_000_001

    books = examples["BookExport"].as_view()(request)
    assert b"".join(books) == (
        b"Title,Author,Genre,Price,Published\r\nFirst,Ann,Novel,,\r\n"
    )
    assert examples["urlpatterns"][0].pattern.describe() == "'books.csv'"

    titles = examples["titles"](request)
    assert b"".join(titles) == b"Title,Price\r\nFirst,\r\n"
    assert b"".join(examples["chunks"]) == b"title,price\r\nFirst,\r\n"


def test_the_header_example_is_what_the_code_writes() -> None:
    (example,) = [b for b in blocks(DOC, "text") if "Content-Disposition" in b]
    assert example.strip() == (
        "Content-Disposition: " + content_disposition("Résumé 2024.csv")
    )


@pytest.mark.django_db
def test_the_error_example_is_what_the_code_raises(examples: dict[str, Any]) -> None:
    (example,) = [b for b in blocks(DOC, "text") if "unknown field" in b]

    class BookExport(examples["BookExport"]):  # type: ignore[misc,name-defined]
        fields = ["author__nmae"]

    with pytest.raises(ImproperlyConfigured) as info:
        BookExport.as_view()(RequestFactory().get("/"))
    expected = " ".join(example.split()).replace("myapp.", "testapp.")
    assert str(info.value) == expected


def test_the_csv_error_example_is_what_the_code_raises() -> None:
    (example,) = [b for b in blocks(DOC, "text") if "cannot be written" in b]
    with pytest.raises(csv.Error) as info:
        b"".join(stream_csv([["a"], ["b,c"]], quoting=csv.QUOTE_NONE))  # type: ignore[arg-type]
    assert f"csv.Error: {info.value}" == " ".join(example.split())
