"""The change feed: visible events, in order, exactly once, and prompt long polls."""

import asyncio
import base64
import itertools
import time
from typing import Any

import pytest

from models.enums import Role
from services.records import feed
from tests.backlog import add_events
from tests.support import Network, alert_body, distress_body, handling


async def _page(network: Network, headers: dict[str, str], after: str = "0", **params: object):  # type: ignore[no-untyped-def]
    query = "&".join(f"{k}={v}" for k, v in {"after": after, **params}.items())
    response = await network.http.get(f"/v1/feed?{query}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_events_for_every_change_in_order(network: Network) -> None:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    reader = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    body = alert_body(handling=handling("countries", recipient_countries=["MY"]))
    alert = (await network.http.post("/v1/alerts", json=body, headers=sender)).json()
    url = f"/v1/alerts/{alert['id']}"
    await network.http.patch(url, json={"severity": "extreme"}, headers=sender)
    await network.http.post(f"{url}/acks", json={"note": "seen"}, headers=reader)
    await network.http.post(f"{url}/cancel", json={"reason": "done"}, headers=sender)
    report = (
        await network.http.post("/v1/distress-reports", json=distress_body(), headers=sender)
    ).json()
    await network.http.post(
        f"/v1/distress-reports/{report['id']}/close", json={"outcome": "rescued"}, headers=sender
    )
    page = await _page(network, reader)
    assert [e["type"] for e in page["events"]] == [
        "alert.created",
        "alert.updated",
        "alert.acknowledged",
        "alert.cancelled",
        "distress.created",
        "distress.closed",
    ]
    cursors = [int(e["cursor"]) for e in page["events"]]
    assert cursors == sorted(cursors)
    assert page["events"][1]["data"]["severity"] == "extreme"
    assert page["events"][1]["data"]["version"] == 2
    assert page["events"][2]["data"]["acknowledgement"]["agency"] == "MY-MMEA"
    assert page["events"][0]["data"]["id"] == alert["id"]
    assert page["events"][0]["timestamp"].endswith("Z")
    again = await _page(network, reader, after=page["next_cursor"])
    assert again["events"] == []
    assert again["next_cursor"] == page["next_cursor"]


async def test_feed_obeys_the_policy_and_keeps_exercises_apart(network: Network) -> None:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    national = alert_body(handling=handling("national"))
    await network.http.post("/v1/alerts", json=national, headers=sender)
    await network.http.post("/v1/alerts", json=alert_body(status="exercise"), headers=sender)
    await network.http.post(
        "/v1/distress-reports",
        json=distress_body(handling={"distribution": "agency", "tlp": "red"}),
        headers=sender,
    )
    outsider = await network.headers(Role.VIEWER, "TH-MECC")
    rescuer = await network.headers(Role.VIEWER, "TH-MRCC")
    assert [e["type"] for e in (await _page(network, outsider))["events"]] == []
    drills = await _page(network, outsider, include_exercise="true")
    assert [e["data"]["status"] for e in drills["events"]] == ["exercise"]
    assert [e["type"] for e in (await _page(network, rescuer))["events"]] == ["distress.created"]
    own = await _page(network, sender)
    assert len(own["events"]) == 2
    auditor = await network.headers(Role.AUDITOR, "BD-CG")
    assert (await network.http.get("/v1/feed", headers=auditor)).status_code == 403
    bad = await network.http.get("/v1/feed?after=abc", headers=sender)
    assert bad.status_code == 422


async def test_paging_while_events_arrive_sees_each_once(network: Network) -> None:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    reader = await network.headers(Role.VIEWER, "MY-MMEA")
    body = alert_body(handling=handling("network"))
    posted: list[str] = []

    async def write() -> None:
        for _ in range(60):
            response = await network.http.post("/v1/alerts", json=body, headers=sender)
            posted.append(response.json()["id"])

    writer = asyncio.create_task(write())
    seen: list[str] = []
    cursor = "0"
    while True:
        finished = writer.done()  # before the read: a POST may commit while the page is read
        page = await _page(network, reader, after=cursor, limit=7)
        seen += [e["data"]["id"] for e in page["events"]]
        cursor = page["next_cursor"]
        if finished and not page["events"]:
            break
    await writer
    assert seen == posted


async def test_long_poll_returns_promptly(network: Network) -> None:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    reader = await network.headers(Role.VIEWER, "MY-MMEA")
    start = await _page(network, reader)

    async def post_later() -> float:
        await asyncio.sleep(0.3)
        await network.http.post(
            "/v1/alerts", json=alert_body(handling=handling("network")), headers=sender
        )
        return time.monotonic()

    began = time.monotonic()
    poll = asyncio.create_task(_page(network, reader, after=start["next_cursor"], wait=10))
    posted_at = await post_later()
    page = await poll
    returned_at = time.monotonic()
    assert [e["type"] for e in page["events"]] == ["alert.created"]
    assert returned_at - posted_at < 1.0
    assert returned_at - began < 5
    empty_began = time.monotonic()
    empty = await _page(network, reader, after=page["next_cursor"], wait=0.6)
    assert empty["events"] == []
    assert time.monotonic() - empty_began >= 0.55


async def test_a_cursor_past_every_seq_is_an_empty_page(network: Network) -> None:
    """Found by schemathesis: on PostgreSQL a cursor beyond 32 bits was a 503."""
    headers = await network.headers(Role.VIEWER, "BD-CG")
    await network.http.post(
        "/v1/alerts", json=alert_body(), headers=await network.headers(Role.DUTY_OFFICER)
    )
    response = await network.http.get("/v1/feed?after=29308709914", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"events": [], "next_cursor": "29308709914"}
    cursor = base64.urlsafe_b64encode(b"s29308709914").decode().rstrip("=")
    listed = await network.http.get(f"/v1/alerts?cursor={cursor}", headers=headers)
    assert listed.status_code == 422, listed.text


async def test_a_long_stretch_of_hidden_events_is_read_a_window_at_a_time(
    network: Network, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader who may see few of a long log's events costs each request a bounded look:
    an empty page whose cursor moved on, then the event, with nothing skipped or repeated."""
    monkeypatch.setattr(feed, "SCAN_WINDOW", 100)
    monkeypatch.setattr(feed, "WINDOWS_PER_REQUEST", 3)
    await asyncio.to_thread(add_events, database_url, 1000, "agency")  # BD-CG's own
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = alert_body(handling=handling("network"))
    visible = (await network.http.post("/v1/alerts", json=body, headers=sender)).json()
    reader = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    cursors: list[int] = [0]
    found: list[dict[str, Any]] = []
    while not found:
        page = await _page(network, reader, after=str(cursors[-1]), wait=5)
        found, cursors = page["events"], [*cursors, int(page["next_cursor"])]
    assert [e["data"]["id"] for e in found] == [visible["id"]]
    steps = [later - earlier for earlier, later in itertools.pairwise(cursors)]
    assert steps[:3] == [300, 300, 300]  # three windows a request, no more
    assert sum(steps) == 1001  # every event looked at once
    mine = await _page(network, sender, wait=0)  # the sender sees its own, a page at once
    assert len(mine["events"]) == 100
