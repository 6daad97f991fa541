"""Where a server process spends its time: py-spy stacks and per-thread CPU time from /proc.

The benchmarks use them for `python -m bench --profile DIR` (bench/profiling.py).
"""
