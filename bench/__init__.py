"""Benchmarks: Ironworks against the bare engine it runs on, measured side by side."""
