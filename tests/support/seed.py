"""Seed the ``Record`` table fast, for the real-server tests and the benchmarks.

One ``INSERT ... SELECT`` over a generated series (``generate_series`` on
PostgreSQL, a recursive CTE on SQLite) writes a million rows in seconds,
inside the database, with the same values on both.

    python -m tests.support.seed --rows N      # with DJANGO_SETTINGS_MODULE set

creates the table in the ``default`` database when it is missing and fills
it unless it already holds exactly ids 1..N (so a reused PostgreSQL database
is seeded once). On PostgreSQL the database itself is created when missing.
"""

from __future__ import annotations

import argparse
import datetime
import os
from decimal import Decimal

NOTE = "lorem ipsum dolor sit amet, consectetur adipiscing elit"

POSTGRES = """
INSERT INTO {table} (id, name, email, city, status, quantity, amount, created, note)
SELECT i, 'Customer ' || i, 'user' || i || '@example.com', 'City ' || (i %% 500),
       (ARRAY['new', 'paid', 'shipped'])[i %% 3 + 1], i %% 1000,
       (i %% 100000) / 100.0,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second', %s
FROM generate_series(1, %s) AS i
"""

SQLITE = """
WITH RECURSIVE series(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM series WHERE i < %s)
INSERT INTO {table} (id, name, email, city, status, quantity, amount, created, note)
SELECT i, 'Customer ' || i, 'user' || i || '@example.com', 'City ' || (i %% 500),
       CASE i %% 3 WHEN 0 THEN 'new' WHEN 1 THEN 'paid' ELSE 'shipped' END, i %% 1000,
       (i %% 100000) / 100.0, datetime('2024-01-01', '+' || i || ' seconds'), %s
FROM series
"""


def record_line(i: int) -> bytes:
    """Row ``i`` as the CSV export of tests.support.csv_views.RECORD_FIELDS writes it
    (datetimes in the current time zone, UTC, in one shape)."""
    status = ("new", "paid", "shipped")[i % 3]
    created = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
        seconds=i
    )
    return (
        f"{i},Customer {i},user{i}@example.com,City {i % 500},{status},{i % 1000},"
        f"{Decimal(i % 100000) / 100:.2f},{created:%Y-%m-%dT%H:%M:%S.%f}\r\n"
    ).encode()


def export_size(rows: int) -> int:
    """The byte size of the export of ids 1..rows, header included."""
    header = b"ID,Customer name,Email,City,Status,Quantity,Amount,Created\r\n"
    return len(header) + sum(len(record_line(i)) for i in range(1, rows + 1))


def create_database() -> None:
    """Create the PostgreSQL database ``default`` names, when it is missing."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        dbname="postgres",
        autocommit=True,
    ) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
        ).fetchone():
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def ensure_records(rows: int) -> None:
    from django.db import connection

    from tests.support.testapp.models import Record

    table = Record._meta.db_table
    wanted = [
        "id",
        *(f.column for f in Record._meta.concrete_fields if not f.primary_key),
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Two test runs may seed the same database at once.
            cursor.execute("SELECT pg_advisory_lock(20260003)")
        if table in connection.introspection.table_names(cursor):
            columns = [
                c.name
                for c in connection.introspection.get_table_description(cursor, table)
            ]
            cursor.execute(f"SELECT count(*), min(id), max(id) FROM {table}")
            if sorted(columns) == sorted(wanted) and cursor.fetchone() == (
                rows,
                1,
                rows,
            ):
                return
            cursor.execute(f"DROP TABLE {table}")
    with connection.schema_editor() as editor:
        editor.create_model(Record)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRES.format(table=table), [NOTE, rows])
            cursor.execute(f"ANALYZE {table}")
        else:
            cursor.execute(SQLITE.format(table=table), [rows, NOTE])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, required=True)
    rows = parser.parse_args().rows
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.support.server_settings")
    import django
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        create_database()
    django.setup()
    ensure_records(rows)


if __name__ == "__main__":
    main()
