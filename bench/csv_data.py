"""The rows every CSV benchmark variant streams: 8 text columns per row."""

from __future__ import annotations

from collections.abc import Iterator

HEADER = ("id", "name", "email", "city", "country", "company", "title", "note")

# A pool of distinct rows, so the source costs the same (next to nothing) in
# every variant and the table compares only how each one writes and sends.
POOL = [
    (
        f"{i:07d}",
        f"Customer {i}",
        f"user{i}@example.com",
        f"City {i % 500}",
        "Country",
        f"Company {i % 97} Ltd",
        "Account manager",
        "lorem ipsum dolor sit amet consectetur",
    )
    for i in range(1000)
]
# The same with a comma in the last column, which csv.writer must quote (and
# Flask's join pattern gets wrong).
QUOTED = [(*row[:-1], "lorem ipsum, dolor sit amet") for row in POOL]


def text_rows(n: int, *, quoted: bool = False) -> Iterator[tuple[str, ...]]:
    pool = QUOTED if quoted else POOL
    for i in range(n):
        yield pool[i % 1000]
