"""Flask's documented CSV streaming pattern, for bench_csv."""
