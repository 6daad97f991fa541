"""Programs run by hand or by tests, that are neither the service nor a benchmark.

- `tools/soak/`: minutes of mixed traffic against a real `rilon serve` (`python -m tools.soak`);
- `tools/chaos_receiver.py`: a webhook receiver that misbehaves on purpose;
- `tools/crash_driver.py`: the crash test of tests/test_crash.py, run by hand and repeated;
- `tools/profiling/`: where a server process spends its time (py-spy, /proc).
"""
