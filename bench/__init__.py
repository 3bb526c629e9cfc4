"""Benchmarks. Each module runs on its own (`python -m bench.<name>`) and prints its figures;
`python -m bench` (or `make bench`) runs them all."""
