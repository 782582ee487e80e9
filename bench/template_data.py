"""The benchmark's rows: built once per server process, the same for every app."""

from __future__ import annotations

import functools
from dataclasses import dataclass

ROWS = 100_000
TEMPLATE = "bench/table.html"
TITLE = "100,000 customers"


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    name: str
    email: str
    city: str
    amount: str


@functools.cache
def customers(n: int = ROWS) -> list[Customer]:
    cities = ["Lisbon", "Oslo", "Kyoto", "Lima", "Perth", "Quito", "Turku"]
    return [
        Customer(
            id=i,
            name=f"Customer {i:06d}",
            email=f"customer{i:06d}@example.com",
            city=cities[i % len(cities)],
            amount=f"{(i * 7919) % 100000 / 100:.2f}",
        )
        for i in range(n)
    ]
