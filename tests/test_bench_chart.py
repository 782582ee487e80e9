"""``make bench`` draws its headline tables as a chart: fed small numbers here.

The tables are printed by the benchmarks' own ``table()``, as the scripts print
them; the chart is read back as a PNG.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bench._harness import table
from bench.chart import Panel, draw, panels_from_tables, parse_tables
from tests.support.servers import ROOT

CSV_OUTPUT = "\n".join(
    [
        "",
        "1,000 rows of 8 text columns, gunicorn (1 sync worker), httpx reading "
        "to the end; best of 1",
        "",
        table(
            ["variant", "total", "rows/s", "MB/s", "peak RSS growth"],
            [
                ["django-streamkit (defaults)", "0.10 s", "1", "1", "+0.1 MiB"],
                ["Django docs: Echo + csv.writer", "0.60 s", "1", "1", "+0.1 MiB"],
                ["Flask docs: ','.join per row", "0.40 s", "1", "1", "+0.1 MiB"],
                ["streamkit, a column to quote", "0.20 s", "1", "1", "+0.1 MiB"],
            ],
        ),
        "",
        "streamkit is 6.0x faster than Django's pattern",
        "",
        "QuerySet of 1,000 rows x 8 columns, gunicorn (1 sync worker)",
        "",
        table(
            ["database", "variant", "first byte", "total", "peak RSS growth"],
            [
                ["SQLite", "CSVStreamView (defaults)", "5 ms", "0.20 s", "+0 MiB"],
                [
                    "SQLite",
                    "Django docs: Echo over values_list().iterator()",
                    "9 ms",
                    "0.80 s",
                    "+0 MiB",
                ],
                ["PostgreSQL", "CSVStreamView (defaults)", "5 ms", "0.30 s", "+0 MiB"],
                [
                    "PostgreSQL",
                    "django-import-export ModelResource.export()",
                    "900 ms",
                    "4.50 s",
                    "+80 MiB",
                ],
            ],
        ),
    ]
)
TEMPLATE_OUTPUT = "\n".join(
    [
        "100,000-row table page, 11.1 MB of HTML, gunicorn (1 sync worker)",
        "",
        table(
            ["response", "first byte", "total", "vs render()", "peak RSS growth"],
            [
                [
                    "django-streamkit StreamingTemplateResponse",
                    "3 ms",
                    "1.10 s",
                    "1.05x",
                    "+1 MiB",
                ],
                ["Django render() (not streamed)", "999 ms", "1.05 s", "1.00x", "+40"],
                ["Flask stream_template", "4 ms", "2.00 s", "1.9x", "+1 MiB"],
            ],
        ),
    ]
)


def test_the_tables_become_panels_of_their_totals() -> None:
    tables = parse_tables(CSV_OUTPUT) + parse_tables(TEMPLATE_OUTPUT)
    panels = panels_from_tables(tables)
    assert [p.title for p in panels] == [
        "CSV from a generator, 1,000 rows",
        "CSV from a QuerySet on SQLite, 1,000 rows",
        "CSV from a QuerySet on PostgreSQL, 1,000 rows",
        "Streamed Jinja2 template, a 100,000-row page",
    ]
    assert panels[0].bars == [
        ("django-streamkit", 0.10),
        ("Django docs (Echo + csv.writer)", 0.60),
        ("Flask docs (','.join)", 0.40),
    ]
    assert panels[0].ours == "django-streamkit"
    assert panels[2].bars == [
        ("django-streamkit CSVStreamView", 0.30),
        ("django-import-export", 4.50),
    ]
    assert [value for _, value in panels[3].bars] == [1.10, 1.05, 2.00]


def test_draw_writes_a_png_with_one_chart_per_table(tmp_path: Path) -> None:
    panels = panels_from_tables(parse_tables(CSV_OUTPUT))
    one = tmp_path / "one.png"
    draw(panels[:1], one)
    three = tmp_path / "docs" / "bench.png"
    draw(panels, three)
    with Image.open(one) as small, Image.open(three) as image:
        assert image.format == small.format == "PNG"
        assert image.width == small.width >= 800
        assert image.height > small.height * 2  # a chart per table, stacked
        colours = {colour for _, colour in image.convert("RGB").getcolors(2**20)}
    assert (0x0B, 0x6E, 0x4F) in colours  # streamkit's bars, highlighted


def test_draw_names_the_fix_when_there_is_nothing_to_draw(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="make bench"):
        draw([], tmp_path / "bench.png")
    with pytest.raises(ValueError, match=r"'fast' is not a total time"):
        panels_from_tables(
            parse_tables(table(["variant", "total"], [["ours", "fast"], ["x", "1"]]))
        )
    assert Panel("t", [("a", 1.0)], "a").ours == "a"


def test_the_command_draws_from_what_the_scripts_printed(tmp_path: Path) -> None:
    (tmp_path / "bench_csv.txt").write_text(CSV_OUTPUT)
    (tmp_path / "bench_templates.txt").write_text(TEMPLATE_OUTPUT)
    out = tmp_path / "bench.png"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.chart",
            str(tmp_path / "bench_csv.txt"),
            str(tmp_path / "bench_templates.txt"),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"Drew 4 benchmark tables into {out}" in result.stdout
    with Image.open(out) as image:
        assert image.format == "PNG"
