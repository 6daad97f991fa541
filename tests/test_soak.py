"""A short soak in CI: a minute of mixed traffic against a real `rilon serve` on SQLite.

`python -m bench soak --minutes 10` is the long form (figures in docs/RELIABILITY.md); this one
asserts the same things on a shorter run: nothing lost, every delivery to a failing receiver
attempted, no request failed, memory and descriptors flat in the second half, lag bounded.
"""

from pathlib import Path

from bench.soak import judge, run

SECONDS = 60.0
RATE = 0.5  # alerts a second, each to 100 receivers: well inside a loaded 2-core machine


def test_a_minute_of_mixed_traffic_loses_nothing_and_stays_flat(tmp_path: Path) -> None:
    result = run(tmp_path, SECONDS, rate=RATE, every=5.0)
    assert judge(result) == [], result.summary()
    assert result.posted >= SECONDS * RATE * 0.8  # the fixed rate was kept
    assert result.expected_pairs == result.posted * 95
