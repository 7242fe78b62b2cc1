"""Benchmarks and reports (TF-free, like the runtime)."""
