"""The examples in docs/json.md run, and say what the code does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, RequestFactory, override_settings

from tests.support.docs import read_doc, run_examples
from tests.support.testapp.models import Author, Book

DOC = read_doc("json.md")


@pytest.fixture
def examples() -> dict[str, Any]:
    return run_examples(DOC)


@pytest.mark.django_db
def test_the_python_examples_run(examples: dict[str, Any]) -> None:
    ann = Author.objects.create(name="Ann")
    Book.objects.create(title="B", author=ann, genre="novel", rating=3, price=2)
    Book.objects.create(title="A", author=ann, genre="poetry", rating=1)
    request = RequestFactory().get("/")

    feed = b"".join(examples["feed"](request))
    assert feed.startswith(b'{"version":2,"items":[{"id":0,"label":"item 0"},')
    assert feed.endswith(b'{"id":999999,"label":"item 999999"}]}')
    assert b"".join(examples["lines"](request)) == b'{"n":0}\n{"n":1}\n{"n":2}\n'
    assert json.loads(b"".join(examples["titles"](request))) == [
        {"title": "A", "price": None},
        {"title": "B", "price": "2.00"},
    ]
    assert sorted(json.loads(b"".join(examples["chunks"]))) == ["A", "B"]

    books = json.loads(b"".join(examples["BookFeed"].as_view()(request)))
    assert books["count"] == 2
    assert {"title": "A", "author": "Ann", "genre": "Poetry", "price": None} in (
        books["results"]
    )
    assert examples["urlpatterns"][0].pattern.describe() == "'books.json'"


@pytest.mark.django_db
def test_the_drf_recipe_streams(examples: dict[str, Any], client: Client) -> None:
    from django.urls import path

    ann = Author.objects.create(name="Ann")
    Book.objects.create(title="B", author=ann, genre="novel", rating=3)
    Book.objects.create(title="A", author=ann, genre="poetry", rating=1)
    urls = type(
        "urls", (), {"urlpatterns": [path("api/books", examples["BookList"].as_view())]}
    )
    with override_settings(ROOT_URLCONF=urls):
        response = client.get("/api/books?genre=poetry&format=ndjson")
        assert response.streaming
        (line,) = b"".join(response.streaming_content).splitlines()
        assert json.loads(line)["title"] == "A"
