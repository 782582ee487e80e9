"""The streaming core vs Django's plain StreamingHttpResponse.

A 1,000,000-piece generator (one short row per piece), served by gunicorn (one
sync worker) and by uvicorn, read to the end by a real HTTP client; time and
the serving process's peak RSS growth, same run.

    .venv/django52/bin/python -m bench.bench_core [--rows N]
"""

from __future__ import annotations

import argparse
import sys

from bench._harness import measure, mib, table
from tests.support.servers import serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    results = []
    for server_kind in ("gunicorn", "uvicorn"):
        with serve(server_kind) as server:
            for source in ("sync", "async"):
                times = {}
                for label, plain in (
                    ("StreamingHttpResponse", "1"),
                    ("StreamingResponse", ""),
                ):
                    url = f"/core/rows?kind={source}&n={rows}&plain={plain}"
                    m = measure(server, url, warmup=f"/core/rows?kind={source}&n=1000")
                    assert m.size == rows * 39, m.size
                    times[label] = m.total
                    results.append(
                        [
                            server_kind,
                            f"{source} generator",
                            label,
                            f"{m.total:.2f} s",
                            mib(m.rss_growth),
                            "",
                        ]
                    )
                ratio = times["StreamingHttpResponse"] / times["StreamingResponse"]
                results[-1][-1] = f"{ratio:.1f}x faster"
            print(f"done {server_kind}", file=sys.stderr)
    print(f"\n{rows:,} pieces of 39 bytes, read to the end by httpx\n")
    print(
        table(
            [
                "server",
                "source",
                "response",
                "total",
                "peak RSS growth",
                "streamkit vs plain",
            ],
            results,
        )
    )


if __name__ == "__main__":
    main()
