"""Benchmarks run by `make bench` (each module: `python -m bench.<name>`)."""
