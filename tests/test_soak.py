"""A short soak in CI: a minute of mixed traffic against a real `rilon serve`, on SQLite (the
dispatcher in the API process) and on PostgreSQL (the API and one `rilon worker`).

`python -m tools.soak --minutes 10` is the long form (figures in docs/RELIABILITY.md); this one
asserts the same things on a shorter run: nothing lost, every delivery to a failing receiver
kept and each failing receiver probed, no request failed, memory flat and descriptors within
their pools, lag bounded, and no background post (a category nobody subscribed to) delivered.
"""

from pathlib import Path

import pytest

from tools.soak.driver import run
from tools.soak.judge import judge

# A minute of traffic each: the two soaks take turns on one test process, not two cores at once
pytestmark = pytest.mark.xdist_group("soak")

SECONDS = 60.0
RATE = 0.5  # alerts a second, each to 100 receivers: well inside a loaded 2-core machine
BACKGROUND = 10.0  # alerts a second no subscription matches: the full soak's B1 option, small


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def postgres(request: pytest.FixtureRequest) -> str | None:
    """None for SQLite; else the server the soak makes its scratch database on."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_server")
    return url


def test_a_minute_of_mixed_traffic_loses_nothing_and_stays_flat(
    tmp_path: Path, postgres: str | None
) -> None:
    result = run(tmp_path, SECONDS, rate=RATE, every=5.0, postgres=postgres, background=BACKGROUND)
    assert judge(result) == [], result.summary()
    assert result.posted >= SECONDS * RATE * 0.8  # the fixed rate was kept
    assert result.background_posted >= SECONDS * BACKGROUND * 0.8
    assert result.expected_pairs == result.posted * 95
    assert result.stray == 0  # no background post reached a receiver
    assert ("worker" in result.samples[0].processes) == (postgres is not None)
