"""Flask side of bench_templates: the same template and rows, Flask's two ways.

``/stream_template`` is Flask's ``stream_template``; ``/recipe`` is the
pattern in Flask's "Streaming Contents" docs: ``template.stream()`` with
``enable_buffering(5)`` in ``stream_with_context``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from flask import Flask, Response, stream_template, stream_with_context

from bench.template_data import TEMPLATE, TITLE, customers

app = Flask(
    __name__,
    template_folder=str(
        Path(__file__).resolve().parent.parent / "tests" / "support" / "jinja2"
    ),
)


@app.get("/")
def healthz() -> str:
    customers()
    return "ok"


@app.get("/stream_template")
def flask_stream_template() -> Response:
    return Response(stream_template(TEMPLATE, heading=TITLE, rows=customers()))


@app.get("/recipe")
def recipe() -> Response:
    template = app.jinja_env.get_template(TEMPLATE)
    stream = template.stream(heading=TITLE, rows=customers())
    stream.enable_buffering(5)
    pieces: Iterator[str] = stream
    return Response(stream_with_context(pieces))
