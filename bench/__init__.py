"""Benchmarks: `make bench` (`python -m bench [figure ...]`), one module per figure (docs/benchmarks.md)."""
