"""The headline benchmark tables as one chart: ``docs/bench.png``.

Reads what the benchmark scripts printed (``make bench`` keeps it in
``.bench/<script>.txt``), takes the total time of each variant from the CSV,
QuerySet and template tables, and draws one bar chart per table, streamkit's
bar highlighted, every bar labelled with its time and its ratio to
streamkit's. Lower is better.

    .venv/django52/bin/python -m bench.chart .bench/bench_*.txt --out docs/bench.png
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path

# What the chart's bars are called, by the label the tables print.
SHORT = {
    "django-streamkit (defaults)": "django-streamkit",
    "Django docs: Echo + csv.writer": "Django docs (Echo + csv.writer)",
    "Flask docs: ','.join per row": "Flask docs (','.join)",
    "hand-chunked csv.writer, 64 KiB": "hand-chunked csv.writer",
    "CSVStreamView (defaults)": "django-streamkit CSVStreamView",
    "Django docs: Echo over values_list().iterator()": "Django docs (Echo)",
    "django-import-export ModelResource.export()": "django-import-export",
    "django-streamkit StreamingTemplateResponse": "django-streamkit",
    "Django render() (not streamed)": "Django render() (not streamed)",
    "Flask stream_template": "Flask stream_template",
    "Flask recipe: stream() + enable_buffering(5)": "Flask docs recipe",
}
# Rows of the generator table that are not a way to compare against.
SKIP = ("a column to quote",)


@dataclass
class Panel:
    """One chart: ``bars`` are (label, seconds); ``ours`` is streamkit's label;
    ``notes`` add text after a bar's time."""

    title: str
    bars: list[tuple[str, float]]
    ours: str
    notes: dict[str, str] = field(default_factory=dict)


@dataclass
class Table:
    """A printed table: the line above it, its headers and its rows of cells."""

    caption: str
    headers: list[str]
    rows: list[list[str]]

    def rows_measured(self) -> str:
        """How many rows the caption says were streamed, as printed."""
        match = re.search(r"([\d,]+)[ -]rows?\b", self.caption)
        return match.group(1) if match else "?"


def parse_tables(text: str) -> list[Table]:
    """Every ``| a | b |`` table in ``text`` (as ``bench._harness.table`` prints)."""
    tables: list[Table] = []
    lines: list[str] = []
    caption = ""
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            lines.append(line)
            continue
        if len(lines) > 2:
            cells = [[c.strip() for c in row.strip("|").split("|")] for row in lines]
            tables.append(Table(caption, cells[0], cells[2:]))
        lines = []
        if line.strip():
            caption = line.strip()
    return tables


def seconds(cell: str) -> float:
    match = re.fullmatch(r"([\d.]+) s", cell)
    if not match:
        raise ValueError(f"{cell!r} is not a total time such as '1.23 s'")
    return float(match.group(1))


def panels_from_tables(tables: list[Table]) -> list[Panel]:
    """The headline panels, in a fixed order, from whichever tables are there."""
    csv: list[Panel] = []
    querysets: list[Panel] = []
    templates: list[Panel] = []
    for table in tables:
        headers, rows, n = table.headers, table.rows, table.rows_measured()
        column = {name: i for i, name in enumerate(headers)}
        if headers[:2] == ["variant", "total"]:
            bars = [
                (SHORT.get(r[0], r[0]), seconds(r[column["total"]]))
                for r in rows
                if not r[0].endswith(SKIP)
            ]
            csv.append(Panel(f"CSV from a generator, {n} rows", bars, bars[0][0]))
        elif headers[:2] == ["database", "variant"]:
            for database in dict.fromkeys(r[0] for r in rows):
                bars = [
                    (SHORT.get(r[1], r[1]), seconds(r[column["total"]]))
                    for r in rows
                    if r[0] == database
                ]
                title = f"CSV from a QuerySet on {database}, {n} rows"
                querysets.append(Panel(title, bars, bars[0][0]))
        elif headers[:2] == ["response", "first byte"] and "vs render()" in column:
            bars = [(SHORT.get(r[0], r[0]), seconds(r[column["total"]])) for r in rows]
            notes = {
                SHORT.get(r[0], r[0]): f"first byte {r[column['first byte']]}, "
                f"peak RSS {r[column['peak RSS growth']]}"
                for r in rows
            }
            title = f"Streamed Jinja2 template, a {n}-row page"
            templates.append(Panel(title, bars, bars[0][0], notes))
    return [*csv, *querysets, *templates]


def draw(panels: list[Panel], path: Path) -> None:
    """One horizontal bar chart per panel, stacked, written as a PNG to ``path``."""
    if not panels:
        raise ValueError(
            "No benchmark table to draw: run `make bench` (or the bench_csv and "
            "bench_templates scripts) and pass what they printed."
        )
    # The object API, not pyplot: no global state, no display needed.
    from matplotlib.figure import Figure

    heights = [0.5 + 0.42 * len(panel.bars) for panel in panels]
    figure = Figure(figsize=(9, sum(heights) + 0.6), layout="constrained")
    axes = figure.subplots(
        len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights}
    )[:, 0]
    for ax, panel in zip(axes, panels, strict=True):
        labels = [label for label, _ in panel.bars]
        values = [value for _, value in panel.bars]
        ours = dict(panel.bars)[panel.ours]
        colours = ["#0b6e4f" if label == panel.ours else "#9aa5b8" for label in labels]
        positions = range(len(labels))
        ax.barh(positions, values, color=colours, height=0.65)
        ax.set_yticks(positions, labels)
        ax.invert_yaxis()
        ax.set_title(panel.title, loc="left", fontsize=11, fontweight="bold")
        ax.set_xlabel("seconds, lower is better", fontsize=8, color="#5b6478")
        ax.set_xlim(0, max(values) * (1.9 if panel.notes else 1.32))
        for position, label, value in zip(positions, labels, values, strict=True):
            text = f"{value:.2f} s"
            if label != panel.ours:
                ratio = value / ours
                text += f"  ({ratio:.2f}x)" if ratio < 10 else f"  ({ratio:.0f}x)"
            if label in panel.notes:
                text += f", {panel.notes[label]}"
            ax.text(value, position, f"  {text}", va="center", fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=9)
    figure.suptitle(
        "django-streamkit vs the plain Django and Flask ways (gunicorn, 1 worker)",
        fontsize=12,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("outputs", nargs="+", type=Path, help="what a bench printed")
    parser.add_argument("--out", type=Path, default=Path("docs/bench.png"))
    args = parser.parse_args()
    tables = [t for output in args.outputs for t in parse_tables(output.read_text())]
    panels = panels_from_tables(tables)
    draw(panels, args.out)
    print(f"Drew {len(panels)} benchmark tables into {args.out}")


if __name__ == "__main__":
    main()
