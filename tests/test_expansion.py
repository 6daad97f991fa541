"""Which events become deliveries for a subscription: from its creation on, never earlier
(a replay sends earlier ones), however far behind the dispatcher is when it subscribes."""

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from core.clock import utcnow
from core.db import Database
from delivery import expansion
from models.enums import AgencyType, Role
from models.events import Event
from models.registry import Agency
from models.subscriptions import Delivery
from tests.hooks import Hooks
from tests.support import alert_body, distress_body, handling


async def test_a_subscription_gets_what_happens_from_its_creation_on(hooks: Hooks) -> None:
    sender = await hooks.network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = alert_body(handling=handling("network"))
    before = await hooks.network.http.post("/v1/alerts", json=body, headers=sender)
    assert before.status_code == 201
    await hooks.subscribe("MY-MMEA")  # the dispatcher has not looked at `before` yet
    after = await hooks.network.http.post("/v1/alerts", json=body, headers=sender)
    await hooks.pump()
    sent = [json.loads(r.body)["data"]["id"] for r in hooks.receiver.received]
    assert sent == [after.json()["id"]]


async def test_what_changed_since_the_last_expansion_counts_at_the_next_event(
    hooks: Hooks, db: Database
) -> None:
    """Expansion reuses what it built from a subscription only while its row and its
    agency's are unchanged (delivery/expansion.py `_subscribers`): an agency's type changed
    in the database, a filter widened and a subscription deleted each count at once."""
    sender = await hooks.network.headers(Role.DUTY_OFFICER, "TH-MECC")
    watched, _ = await hooks.subscribe("MY-MMEA", filter={"min_severity": "extreme"})
    admin = await hooks.network.headers(Role.AGENCY_ADMIN, "MY-MMEA")

    async def sent(body: dict[str, object], kind: str = "alerts") -> list[str]:
        """Post `body` from TH-MECC; the ids of what MY-MMEA's receiver got for it."""
        posted = await hooks.network.http.post(f"/v1/{kind}", json=body, headers=sender)
        assert posted.status_code == 201, posted.text
        hooks.receiver.received.clear()
        await hooks.pump()
        return [json.loads(r.body)["data"]["id"] for r in hooks.receiver.received]

    national_distress = distress_body(handling=handling("national"))
    distress = "distress-reports"
    assert await sent(national_distress, distress) == []  # a coast guard abroad may not read it
    _set_type(db, "MY-MMEA", AgencyType.MRCC)  # every MRCC reads every actual distress report
    assert len(await sent(national_distress, distress)) == 1
    _set_type(db, "MY-MMEA", AgencyType.COAST_GUARD)
    assert await sent(national_distress, distress) == []

    severe = alert_body(handling=handling("network"), severity="severe")
    assert await sent(severe) == []  # below the filter's minimum
    widened = await hooks.network.http.patch(
        f"/v1/subscriptions/{watched}", json={"filter": {}}, headers=admin
    )
    assert widened.status_code == 200, widened.text
    assert len(await sent(severe)) == 1
    deleted = await hooks.network.http.delete(f"/v1/subscriptions/{watched}", headers=admin)
    assert deleted.status_code == 200, deleted.text
    assert await sent(severe) == []


def _set_type(db: Database, agency: str, kind: AgencyType) -> None:
    db.run_write(
        lambda session: session.execute(
            update(Agency).where(col(Agency.code) == agency).values(type=kind)
        )
    )


async def test_an_event_to_more_subscriptions_than_a_unit_takes_is_split(hooks: Hooks) -> None:
    """At most `max_rows` deliveries a writer unit, an event split over units if need be (at
    1,000 subscriptions one unit of 1,000 rows held the POSTs in its commit: PERFORMANCE.md,
    B4): every pair once, a subscription made or deleted between the units of an event
    neither gets it nor breaks the rest."""
    sender = await hooks.network.headers(Role.DUTY_OFFICER, "BD-CG")
    subscribed = [
        (await hooks.subscribe(("MY-MMEA", "TH-MECC")[n % 2], path=f"/s/{n}"))[0] for n in range(7)
    ]
    body = alert_body(handling=handling("network"))
    for _ in range(2):
        assert (await hooks.network.http.post("/v1/alerts", json=body, headers=sender)).is_success
    db = hooks.dispatcher.db

    async def unit() -> list[tuple[str, int]]:
        before = set(await db.read(_pairs))
        assert await db.write_now(expansion.expand, utcnow(), max_rows=3) > 0
        return sorted(set(await db.read(_pairs)) - before)

    first = await unit()
    assert len(first) == 3
    assert len({seq for _, seq in first}) == 1  # within the first event
    late, _ = await hooks.subscribe("MY-MMEA", path="/late")  # after the event: not for it
    admin = await hooks.network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    gone = subscribed[-1]  # the last made, so the last reached (ids in time order): not yet
    deleted = await hooks.network.http.delete(f"/v1/subscriptions/{gone}", headers=admin)
    assert deleted.status_code == 200, deleted.text
    made = first
    while len(made) < 12:  # 6 subscriptions left, 2 events
        added = await unit()
        assert 0 < len(added) <= 3
        made += added
    assert await db.write_now(expansion.expand, utcnow(), max_rows=3) == 0  # nothing left
    assert len(set(made)) == 12
    assert {sub for sub, _ in made} == set(subscribed) - {gone}
    assert late not in {sub for sub, _ in await db.read(_pairs)}


async def test_events_are_read_a_chunk_at_a_time_and_none_is_skipped(
    hooks: Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit reads events `EVENT_CHUNK` at a time, only as far as it goes (at 1,000
    subscriptions it read 500 to use one: PERFORMANCE.md, B4). With a chunk of 3 and 23
    events to one subscription: a unit of 10 rows reads 4 chunks, not all 23; a `batch` of 5
    reads a short second chunk to stop at 5; the next unit takes the last 8. Each unit makes
    the earliest events not yet made, and every event is made once."""
    monkeypatch.setattr(expansion, "EVENT_CHUNK", 3)
    await hooks.subscribe("MY-MMEA")
    sender = await hooks.network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = alert_body(handling=handling("network"))
    for _ in range(23):
        assert (await hooks.network.http.post("/v1/alerts", json=body, headers=sender)).is_success
    db = hooks.dispatcher.db
    reads: list[int] = []
    next_events = expansion._next_events

    def counted(connection: Any, after_seq: int, count: int) -> Any:
        reads.append(count)
        return next_events(connection, after_seq, count)

    monkeypatch.setattr(expansion, "_next_events", counted)
    events = sorted(await db.read(_event_seqs))
    assert await db.write_now(expansion.expand, utcnow(), max_rows=10) == 10
    assert reads == [3, 3, 3, 3]  # the 11th event, in the 4th chunk, found the unit full
    assert await _made(db) == events[:10]
    reads.clear()
    assert await db.write_now(expansion.expand, utcnow(), batch=5) == 5
    assert reads == [3, 2]
    assert await _made(db) == events[:15]
    assert await db.write_now(expansion.expand, utcnow()) == 8
    assert await db.write_now(expansion.expand, utcnow()) == 0
    assert await _made(db) == events


async def _made(db: Database) -> list[int]:
    """The events made into deliveries so far, each as often as it was made, in seq order:
    a table's rows come back in the order the database keeps them, not the order they were
    inserted (PostgreSQL gave 9-23 before 1-8 in a CI run)."""
    return sorted(seq for _, seq in await db.read(_pairs))


def _event_seqs(session: Session) -> list[int]:
    return [seq for seq in session.exec(select(Event.seq)).all() if seq is not None]


def _pairs(session: Session) -> list[tuple[str, int]]:
    rows = session.exec(select(Delivery.subscription_id, Delivery.event_seq)).all()
    return [(sub, seq) for sub, seq in rows if seq is not None]


async def test_workers_splitting_events_make_each_pair_once(
    hooks: Hooks, database_url: str
) -> None:
    """Three expanders on their own connections (three `rilon worker`s would be so) taking
    three rows a unit at once, over events split between them: each pair once, none lost."""
    subscribed = {
        (await hooks.subscribe(("MY-MMEA", "TH-MECC")[n % 2], path=f"/w/{n}"))[0] for n in range(7)
    }
    sender = await hooks.network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = alert_body(handling=handling("network"))
    for _ in range(3):
        assert (await hooks.network.http.post("/v1/alerts", json=body, headers=sender)).is_success
    workers = [Database(database_url) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        for _ in range(30):
            units = (db.write_now(expansion.expand, utcnow(), max_rows=3) for db in workers)
            if not any(await asyncio.gather(*units)):
                break
    finally:
        for worker in workers:
            worker.close()
    made = await hooks.dispatcher.db.read(_pairs)
    assert len(made) == len(set(made)) == 21
    assert {sub for sub, _ in made} == subscribed
