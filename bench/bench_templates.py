"""A 100,000-row table page (about 11 MB of HTML), four ways, under gunicorn.

The same Jinja2 template and the same in-memory rows; one gunicorn sync
worker per app; a real HTTP client (httpx) reads each response to the end.
Time to the first body byte, total time and the worker's peak RSS growth,
the median of ``--runs`` runs after a warm-up:

- django-streamkit's ``StreamingTemplateResponse`` (default buffer size);
- Django's non-streaming ``render()`` on the same Jinja2 engine;
- Flask's ``stream_template``;
- the Flask docs' recipe: ``template.stream()`` + ``enable_buffering(5)``.

    flock /tmp/streamkit-heavy.lock .venv/django52/bin/python -m bench.bench_templates
"""

from __future__ import annotations

import argparse
import statistics
import sys

from bench._harness import Measure, measure, mib, table
from tests.support.servers import Server, serve

STREAMKIT = "django-streamkit StreamingTemplateResponse"
RENDER = "Django render() (not streamed)"
RECIPE = "Flask recipe: stream() + enable_buffering(5)"
CASES = [
    (STREAMKIT, "django", "/streamkit"),
    (RENDER, "django", "/render"),
    ("Flask stream_template", "flask", "/stream_template"),
    (RECIPE, "flask", "/recipe"),
]
APPS = {
    "django": {"settings": "bench.template_settings"},
    "flask": {"project": "bench.flask_site"},
}


def median(server: Server, path: str, runs: int) -> Measure:
    measure(server, path)  # warm up: the compiled template, imports, buffers
    results = [measure(server, path) for _ in range(runs)]
    sizes = {m.size for m in results}
    assert len(sizes) == 1, f"{path}: the page's size changed between runs: {sizes}"
    return Measure(
        statistics.median(m.first_byte for m in results),
        statistics.median(m.total for m in results),
        results[0].size,
        int(statistics.median(m.rss_growth for m in results)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    results: dict[str, Measure] = {}
    for app, options in APPS.items():
        with serve("gunicorn", **options) as server:  # type: ignore[arg-type]
            for label, case_app, path in CASES:
                if case_app == app:
                    results[label] = median(server, path, runs)
                    print(f"measured {label}", file=sys.stderr)
    sizes = {m.size for m in results.values()}
    assert len(sizes) == 1, f"the four pages differ in size: {sizes}"
    base = results[RENDER]
    rows = [
        [
            label,
            f"{m.first_byte * 1000:.0f} ms",
            f"{m.total:.2f} s",
            f"{m.total / base.total:.2f}x",
            mib(m.rss_growth),
        ]
        for label, m in results.items()
    ]
    print(
        f"\n100,000-row table page, {sizes.pop() / 1e6:.1f} MB of HTML, gunicorn "
        f"(1 sync worker), httpx reading to the end; median of {runs} runs\n"
    )
    headers = ["response", "first byte", "total", "vs render()", "peak RSS growth"]
    print(table(headers, rows))
    streamkit, recipe = results[STREAMKIT], results[RECIPE]
    print(
        f"\nstreamkit: first byte {streamkit.first_byte * 1000:.0f} ms "
        f"(target < 50 ms), total {streamkit.total / base.total:.2f}x render() "
        f"(target <= 1.2x), {recipe.total / streamkit.total:.1f}x faster than "
        "the Flask recipe"
    )


if __name__ == "__main__":
    main()
