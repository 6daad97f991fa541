"""Times of what happened are not in the future; every record shows its position's age."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import TypeDecorator
from sqlalchemy.dialects import sqlite

import core.clock
from core.clock import iso
from models.base import UTCDateTime
from models.enums import Role
from tests.support import Network, alert_body, distress_body

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The clock validators and readers use, held at `NOW` until the test moves it."""
    moment = [NOW]
    monkeypatch.setattr(core.clock, "utcnow", lambda: moment[0])
    return moment


def _at(minutes: float) -> str:
    return iso(NOW + timedelta(minutes=minutes))


def _with_fix(minutes: float) -> dict[str, Any]:
    position = {"lat": 5.62, "lon": 94.41, "fix_time": _at(minutes)}
    return distress_body(position=position)


CASES = [
    ("alerts", alert_body(observed_at=_at(6)), "observed_at"),
    ("alerts", alert_body(observed_at=_at(60 * 24 * 365)), "observed_at"),
    ("distress-reports", _with_fix(5.5), "position.fix_time"),
]


@pytest.mark.parametrize(("path", "body", "field"), CASES, ids=["6 min", "a year", "fix"])
@pytest.mark.usefixtures("frozen")
async def test_future_times_are_422_naming_the_field(
    network: Network, path: str, body: dict[str, Any], field: str
) -> None:
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    response = await network.http.post(f"/v1/{path}", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert [error["field"] for error in errors] == [field]
    assert "future" in errors[0]["message"]
    listed = await network.http.get(f"/v1/{path}", headers=headers)
    assert listed.json()["items"] == []  # nothing written


@pytest.mark.usefixtures("frozen")
async def test_a_patch_into_the_future_is_422_and_changes_nothing(network: Network) -> None:
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    created = await network.http.post("/v1/alerts", json=alert_body(), headers=headers)
    url = created.headers["location"]
    patched = await network.http.patch(url, json={"observed_at": _at(10)}, headers=headers)
    assert patched.status_code == 422, patched.text
    assert [error["field"] for error in patched.json()["errors"]] == ["observed_at"]
    assert (await network.http.get(url, headers=headers)).json()["version"] == 1


@pytest.mark.usefixtures("frozen")
async def test_times_up_to_five_minutes_ahead_are_taken(network: Network) -> None:
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    alert = await network.http.post(
        "/v1/alerts", json=alert_body(observed_at=_at(5)), headers=headers
    )
    assert alert.status_code == 201, alert.text
    assert alert.json()["position_age_seconds"] == 0  # a fast clock is not a negative age
    report = await network.http.post("/v1/distress-reports", json=_with_fix(4.9), headers=headers)
    assert report.status_code == 201, report.text


async def test_every_record_shows_its_position_age(
    network: Network, frozen: list[datetime]
) -> None:
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    reader = await network.headers(Role.VIEWER, "MY-MMEA")
    post = network.http.post
    report = await post("/v1/distress-reports", json=_with_fix(-90), headers=headers)
    assert report.status_code == 201, report.text
    assert report.json()["position_age_seconds"] == 90 * 60
    url = report.headers["location"]
    alert = await post("/v1/alerts", json=alert_body(observed_at=_at(-1)), headers=headers)
    assert alert.json()["position_age_seconds"] == 60
    unknown = await post("/v1/alerts", json=alert_body(observed_at=None), headers=headers)
    assert unknown.json()["position_age_seconds"] is None

    frozen[0] = NOW + timedelta(minutes=30, seconds=15)  # half an hour on, nobody reports
    got = (await network.http.get(url, headers=reader)).json()
    assert got["position_age_seconds"] == 120 * 60 + 15
    listed = (await network.http.get("/v1/distress-reports", headers=reader)).json()
    assert listed["items"][0]["position_age_seconds"] == 120 * 60 + 15
    geo = (await network.http.get("/v1/geo/alerts", headers=reader)).json()
    ages = [feature["properties"]["position_age_seconds"] for feature in geo["features"]]
    assert ages == [None, 31 * 60 + 15]

    fresh = {"position": {"lat": 5.7, "lon": 94.3, "fix_time": _at(30)}}
    patched = await network.http.patch(url, json=fresh, headers=headers)
    assert patched.status_code == 200, patched.text
    assert patched.json()["position_age_seconds"] == 15
    versions = (await network.http.get(f"{url}/versions", headers=reader)).json()["items"]
    assert all("position_age_seconds" not in version for version in versions)  # as sent


async def test_a_list_shows_an_expired_alert_as_reading_it_does(
    network: Network, frozen: list[datetime]
) -> None:
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    reader = await network.headers(Role.VIEWER, "MY-MMEA")
    body = alert_body(observed_at=_at(-1), expires_at=_at(60))
    created = await network.http.post("/v1/alerts", json=body, headers=headers)
    assert created.status_code == 201, created.text
    frozen[0] = NOW + timedelta(hours=2)  # past its expiry
    got = (await network.http.get(created.headers["location"], headers=reader)).json()
    listed = (await network.http.get("/v1/alerts?state=expired", headers=reader)).json()
    assert listed["items"] == [got]
    assert (got["state"], got["position_age_seconds"]) == ("expired", 121 * 60)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-12-04 02:00:00.000001", datetime(2026, 12, 4, 2, 0, 0, 1, tzinfo=UTC)),  # stored
        ("2026-12-04 02:00:00", NOW),
        ("2026-12-04T07:30:00+05:30", NOW),
        ("2026-12-04T02:00:00Z", NOW),
        ("2026-12-04", datetime(2026, 12, 4, tzinfo=UTC)),
        (None, None),
    ],
)
def test_sqlite_times_read_back_aware_in_utc(text: str | None, moment: datetime | None) -> None:
    """UTCDateTime reads the text SQLite holds straight into a UTC time, and any other ISO
    text as SQLAlchemy's own reading would (the tests above all run through it)."""
    dialect = sqlite.dialect()
    read = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    assert read is not None
    got = read(text)
    assert got == moment
    assert got is None or got.tzinfo is UTC


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=7)), None])))
def test_sqlite_times_are_stored_as_sqlalchemy_would_store_them(moment: datetime) -> None:
    """UTCDateTime writes SQLite's text in one call: the very text SQLAlchemy's SQLite DATETIME
    would store (so ranges and sorts on the column stay as they were), and a naive time is
    refused all the same."""
    dialect = sqlite.dialect()
    adapted = UTCDateTime().dialect_impl(dialect)
    assert isinstance(adapted, UTCDateTime)
    write = adapted.bind_processor(dialect)
    general = TypeDecorator.bind_processor(adapted, dialect)  # SQLAlchemy's own, in two calls
    assert write is not None
    assert general is not None
    if moment.tzinfo is None:
        with pytest.raises(ValueError, match="naive datetime"):
            write(moment)
        return
    try:
        expected = general(moment)
    except OverflowError:  # beyond year 1 or 9999 once in UTC: both refuse
        with pytest.raises(OverflowError):
            write(moment)
        return
    assert write(moment) == expected
    assert write(None) is None
