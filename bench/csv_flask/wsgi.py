"""The "Streaming Contents" example from Flask's documentation, as a WSGI app.

@app.route('/large.csv')
def generate_large_csv():
    def generate():
        for row in iter_all_rows():
            yield f"{','.join(row)}\\n"
    return generate(), {"Content-Type": "text/csv"}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Flask, request

from bench.csv_data import HEADER, text_rows

app = Flask(__name__)


@app.route("/")
@app.route("/healthz")
def healthz() -> str:
    return "ok"


@app.route("/large.csv")
def generate_large_csv() -> Any:
    n = int(request.args.get("n", "1000"))

    def generate() -> Iterator[str]:
        yield f"{','.join(HEADER)}\n"
        for row in text_rows(n):
            yield f"{','.join(row)}\n"

    return generate(), {"Content-Type": "text/csv"}


application = app
