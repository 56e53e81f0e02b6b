"""Benchmark measurements shared by `nasops bench` and `benchmarks/`."""
