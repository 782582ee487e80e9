.PHONY: demo test bench

# Start the demo site on http://127.0.0.1:8000 (installs, migrates, seeds).
demo:
	bash scripts/demo

# Run everything CI runs: ruff, mypy and the suite on Django 5.2 and 6.x.
test:
	bash scripts/test

# Print the benchmark tables and draw the headline ones as docs/bench.png.
bench:
	bash scripts/bench
