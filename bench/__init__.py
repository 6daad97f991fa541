"""Benchmarks: each figure is a ratio against a baseline measured in the same run.

See docs/PERFORMANCE.md for the method and the latest figures.
"""
