"""Seed the bookshop with realistic, deterministic data, fast (bulk inserts).

python manage.py seed [--orders 200000] [--if-empty]
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import DateField, DecimalField, Model

from demo.models import Author, Book, Order

FIRST = (
    "Alice Bruno Chiara Dmitri Elif Farid Greta Hiro Ines Jonas Kofi Lena Mateo "
    "Nadia Oskar Priya Quentin Rosa Sven Tomás Uma Viktor Wen Ximena Yusuf Zoë "
    "Ängel Chloé Łukasz Søren"
).split()
LAST = (
    "Almeida Berg Castillo Dubois Eriksen Fischer García Haddad Ivanova Jensen "
    "Kowalski Lindqvist Moreau Nakamura Okafor Petrov Quinn Rossi Santos Tanaka "
    "Ulrich Vargas Weber Xu Yilmaz Zhang Núñez Müller Côté Søndergaard"
).split()
COUNTRIES = [
    "United Kingdom",
    "France",
    "Japan",
    "Brazil",
    "Norway",
    "Poland",
    "Canada",
    "Germany",
    "Spain",
    "India",
    "Kenya",
    "Mexico",
]
WORDS = (
    "river night garden quiet stone paper machine winter signal lantern harbour "
    "orchard theorem algorithm silence mirror compass archive meridian echo glass "
    "forest letter ocean"
).split()
NOTES = [
    "",
    "",
    "",
    "gift wrap",
    "leave at the door",
    "=SUM(A1:A9)",
    "call before delivery",
    "+44 20 7946 0000",
    "deliver, after 6 pm",
]


class Command(BaseCommand):
    help = "Fill the demo database with authors, books and orders (bulk inserts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--authors", type=int, default=2_000)
        parser.add_argument("--books", type=int, default=50_000)
        parser.add_argument("--orders", type=int, default=200_000)
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing if orders exist."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"] and Order.objects.exists():
            self.stdout.write("The demo data is already there.")
            return
        start = time.monotonic()
        rng = random.Random(2026)
        n_authors, n_books, n_orders = (
            options["authors"],
            options["books"],
            options["orders"],
        )
        genres = [g.value for g in Book.Genre]
        statuses = [s.value for s in Order.Status]
        epoch = datetime(2024, 1, 1, tzinfo=UTC)
        prices = [Decimal(rng.randint(499, 7999)) / 100 for _ in range(n_books)]
        with transaction.atomic():
            for model in (Order, Book, Author):
                _wipe(model)
            _insert(
                Author,
                ["id", "name", "country", "born"],
                (
                    (
                        i + 1,
                        f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                        rng.choice(COUNTRIES),
                        date(1900, 1, 1) + timedelta(days=rng.randrange(36_000)),
                    )
                    for i in range(n_authors)
                ),
            )
            _insert(
                Book,
                [
                    "id",
                    "title",
                    "author_id",
                    "genre",
                    "isbn",
                    "published",
                    "pages",
                    "price",
                    "in_stock",
                ],
                (
                    (
                        i + 1,
                        " ".join(rng.sample(WORDS, rng.randint(2, 4))).title(),
                        rng.randint(1, n_authors),
                        rng.choice(genres),
                        f"978{i:010d}",
                        date(1950, 1, 1) + timedelta(days=rng.randrange(27_000)),
                        rng.randint(48, 1200),
                        prices[i],
                        rng.random() > 0.1,
                    )
                    for i in range(n_books)
                ),
            )
            _insert(
                Order,
                [
                    "id",
                    "book_id",
                    "customer",
                    "email",
                    "quantity",
                    "total",
                    "status",
                    "created",
                    "note",
                ],
                (
                    (
                        i + 1,
                        (book := rng.randrange(n_books)) + 1,
                        (name := f"{rng.choice(FIRST)} {rng.choice(LAST)}"),
                        f"{name.split()[0].lower()}{i}@example.com",
                        (qty := rng.randint(1, 5)),
                        prices[book] * qty,
                        rng.choice(statuses),
                        epoch + timedelta(seconds=rng.randrange(60_000_000)),
                        rng.choice(NOTES),
                    )
                    for i in range(n_orders)
                ),
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {n_authors:,} authors, {n_books:,} books and "
                f"{n_orders:,} orders in {time.monotonic() - start:.1f} s."
            )
        )


def _wipe(model: type[Model]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")


def _insert(
    model: type[Model], columns: list[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    """One prepared INSERT, executed for batches of rows: the database's own
    bulk path, with values adapted by each field as the ORM would."""
    meta = model._meta
    fields = [meta.get_field(c.removesuffix("_id")) for c in columns]
    db = connections[DEFAULT_DB_ALIAS]
    # Only values the driver can't take as they are go through the field.
    adapt = [
        (lambda v, f=field: f.get_db_prep_save(v, db))  # type: ignore[misc]
        if isinstance(field, DateField | DecimalField)
        else None
        for field in fields
    ]
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        connection.ops.quote_name(meta.db_table),
        ", ".join(connection.ops.quote_name(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    with connection.cursor() as cursor:
        iterator = iter(rows)
        while batch := list(islice(iterator, 10_000)):
            cursor.executemany(
                sql,
                [
                    [v if a is None else a(v) for a, v in zip(adapt, row, strict=True)]
                    for row in batch
                ],
            )
