"""Shared measuring for the benchmark scripts: a real client reading to the end."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from tests.support.servers import Server


@dataclass
class Measure:
    first_byte: float
    total: float
    size: int
    rss_growth: int


def measure(server: Server, url: str, *, warmup: str | None = None) -> Measure:
    if warmup:
        httpx.get(server.url + warmup, timeout=300)
    baseline = server.reset_peak_rss()
    first = None
    size = 0
    start = time.perf_counter()
    with httpx.stream("GET", server.url + url, timeout=600) as response:
        response.raise_for_status()
        for chunk in response.iter_raw(65536):
            if first is None and chunk:
                first = time.perf_counter() - start
            size += len(chunk)
    total = time.perf_counter() - start
    return Measure(first or total, total, size, server.peak_rss() - baseline)


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = (
        "| "
        + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        + " |"
    )
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
        for r in rows
    ]
    return "\n".join([line, rule, *body])


def mib(n: int) -> str:
    return f"{n / 2**20:+.1f} MiB"
