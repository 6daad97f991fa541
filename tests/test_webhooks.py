"""Webhooks end to end: real local receivers, real signatures, time driven by a test clock."""

import asyncio
import json
import time
from dataclasses import replace
from datetime import timedelta
from functools import partial

import pytest
from aiohttp import web
from fastapi import FastAPI
from sqlalchemy import func
from sqlmodel import Session, col, select

from core.clock import utcnow
from core.db import Database
from core.metrics import Metrics
from core.netguard import networks
from delivery import expansion, outbox, settling
from delivery.dispatcher import Dispatcher
from delivery.jobs import Result
from delivery.transport import Transport
from models.enums import Role
from models.subscriptions import Delivery
from tests.hooks import Hooks
from tests.receiver import Received, Receiver, fails, running, verify
from tests.support import alert_body, handling, until


async def test_deliveries_are_signed_and_verify(hooks: Hooks) -> None:
    subscription, secret = await hooks.subscribe("MY-MMEA")
    alert = await hooks.post_alert(handling=handling("countries", recipient_countries=["MY"]))
    await hooks.pump()
    [delivery] = hooks.receiver.received
    event = verify(secret, delivery)
    assert event["type"] == "alert.created"
    assert event["data"]["id"] == alert["id"]
    assert delivery.headers["webhook-id"] == event["id"]
    assert fails("whsec_" + "A" * 43 + "=", delivery)
    [row] = await hooks.deliveries("MY-MMEA", subscription)
    assert row["state"] == "succeeded"
    assert [a["status_code"] for a in row["attempts"]] == [200]


async def test_what_an_agency_may_not_see_is_never_sent(hooks: Hooks) -> None:
    subscription, secret = await hooks.subscribe("TH-MECC")
    await hooks.post_alert(handling=handling("countries", recipient_countries=["MY"]))
    await hooks.post_alert(handling=handling("national"))
    await hooks.pump()
    assert hooks.receiver.received == []
    admin = await hooks.network.headers(Role.AGENCY_ADMIN, "TH-MECC")
    pinged = await hooks.network.http.post(f"/v1/subscriptions/{subscription}/ping", headers=admin)
    assert pinged.status_code == 202
    await hooks.pump()
    [ping] = hooks.receiver.received
    assert verify(secret, ping)["type"] == "ping"


async def test_filters_narrow_what_is_sent(hooks: Hooks) -> None:
    await hooks.subscribe(
        "MY-MMEA",
        event_types=["alert.created"],
        filter={"min_severity": "extreme", "bbox": [90, 15, 95, 25]},
    )
    network = handling("network")
    await hooks.post_alert(handling=network, severity="severe")
    await hooks.post_alert(handling=network, severity="extreme", location={"lat": 5, "lon": 97})
    wanted = await hooks.post_alert(handling=network, severity="extreme")
    await hooks.pump()
    assert [verify_id(r.body) for r in hooks.receiver.received] == [wanted["id"]]


def verify_id(body: str) -> str:
    return str(json.loads(body)["data"]["id"])


async def test_two_failures_then_success_is_three_attempts(hooks: Hooks) -> None:
    hooks.receiver.script["/hook"] = [500, 502]
    subscription, secret = await hooks.subscribe("MY-MMEA")
    await hooks.post_alert(handling=handling("network"))
    await hooks.pump()
    hooks.clock.advance(7)  # first retry after 5 s (±20%)
    await hooks.pump()
    hooks.clock.advance(37)  # second after 30 s
    await hooks.pump()
    assert len(hooks.receiver.received) == 3
    ids = {r.headers["webhook-id"] for r in hooks.receiver.received}
    assert len(ids) == 1  # the same webhook-id on every retry
    stamps = [r.headers["webhook-timestamp"] for r in hooks.receiver.received]
    assert len(set(stamps)) == 3  # a fresh timestamp (and signature) per attempt
    [row] = await hooks.deliveries("MY-MMEA", subscription)
    assert row["state"] == "succeeded"
    assert [a["status_code"] for a in row["attempts"]] == [500, 502, 200]
    assert [a["response_excerpt"] for a in row["attempts"]] == ["no", "no", "ok"]
    assert all(a["latency_ms"] >= 0 for a in row["attempts"])


async def test_410_disables_the_subscription(hooks: Hooks) -> None:
    hooks.receiver.script["/hook"] = [410]
    subscription, _ = await hooks.subscribe("MY-MMEA")
    await hooks.post_alert(handling=handling("network"))
    await hooks.pump()
    admin = await hooks.network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    state = (
        await hooks.network.http.get(f"/v1/subscriptions/{subscription}", headers=admin)
    ).json()
    assert state["enabled"] is False
    assert "410" in state["disabled_reason"]
    feed = (await hooks.network.http.get("/v1/feed", headers=admin)).json()["events"]
    [told] = [e for e in feed if e["type"] == "subscription.disabled"]
    assert told["data"]["id"] == subscription
    assert "410" in told["data"]["disabled_reason"]
    others = await hooks.network.headers(Role.AGENCY_ADMIN, "TH-MECC")
    other_feed = (await hooks.network.http.get("/v1/feed", headers=others)).json()["events"]
    assert all(e["type"] != "subscription.disabled" for e in other_feed)
    await hooks.post_alert(handling=handling("network"))
    hooks.clock.advance(3600)
    await hooks.pump()
    assert len(hooks.receiver.received) == 1
    enabled = await hooks.network.http.post(
        f"/v1/subscriptions/{subscription}/enable", headers=admin
    )
    assert enabled.json()["enabled"] is True
    await hooks.pump()
    resumed = [json.loads(r.body)["type"] for r in hooks.receiver.received[1:]]
    assert sorted(resumed) == ["alert.created", "subscription.disabled"]


async def test_retry_after_is_honoured(hooks: Hooks) -> None:
    hooks.receiver.script["/hook"] = [429]
    hooks.receiver.retry_after = "120"
    await hooks.subscribe("MY-MMEA")
    await hooks.post_alert(handling=handling("network"))
    await hooks.pump()
    hooks.clock.advance(60)  # the schedule alone would have retried after ~5 s
    await hooks.pump()
    assert len(hooks.receiver.received) == 1
    hooks.clock.advance(61)
    await hooks.pump()
    assert len(hooks.receiver.received) == 2


async def test_a_hanging_receiver_does_not_delay_the_others(hooks: Hooks, app: FastAPI) -> None:
    # the cap is per agency (50): spread the 100 subscriptions over four agencies
    await hooks.subscribe("TH-MECC", path="/hang")
    hooks.receiver.script["/hang"] = ["hang"] * 5
    for n in range(99):
        agency = ("MY-MMEA", "ID-BASARNAS", "TH-MRCC")[n % 3]
        await hooks.subscribe(agency, path=f"/ok/{n}")
    await hooks.post_alert(handling=handling("network"))
    began = time.monotonic()
    while len(hooks.receiver.received) < 100 and time.monotonic() - began < 10:
        await hooks.dispatcher.tick()  # as `run` does: a round claims at most CLAIM_SIZE
        await asyncio.sleep(0.01)
    await hooks.receiver.wait_for(100, timeout=1)
    healthy = [r for r in hooks.receiver.received if r.path.startswith("/ok/")]
    assert len(healthy) == 99
    assert time.monotonic() - began < 5


async def test_a_hanging_receiver_does_not_keep_the_others_attempts_unrecorded(
    hooks: Hooks, db: Database
) -> None:
    """Finished attempts wait to be recorded while other posts are open, but only for
    `SETTLE_WAIT_SECONDS`: a receiver that hangs leaves the others' attempts recorded at once,
    not when its own request gives up."""
    await hooks.subscribe("TH-MECC", path="/hang")
    hooks.receiver.script["/hang"] = ["hang"]
    ok, _ = await hooks.subscribe("MY-MMEA", path="/ok")
    await hooks.post_alert(handling=handling("network"))
    await hooks.dispatcher.tick()
    await hooks.receiver.wait_for(1, path="/ok")
    began = time.monotonic()
    while _state(db, ok) != "succeeded":
        assert time.monotonic() - began < 3, "the /ok attempt was left unrecorded"
        await asyncio.sleep(0.01)
    assert hooks.receiver.in_flight == 1  # the hanging request is still open


def _state(db: Database, subscription: str) -> str | None:
    """The state of the subscription's one delivery."""
    with Session(db.engine) as session:
        return session.exec(
            select(Delivery.state).where(col(Delivery.subscription_id) == subscription)
        ).first()


async def test_a_receiver_never_holds_more_than_its_share_at_once(hooks: Hooks) -> None:
    """Per-subscription concurrency: however much is due, at most `per_subscription`
    requests are open to one receiver, and the limit is used, not undercut."""
    await hooks.subscribe("MY-MMEA", path="/slow")
    hooks.receiver.script["/slow"] = ["slow"] * 12
    for _ in range(12):
        await hooks.post_alert(handling=handling("network"))
    deadline = time.monotonic() + 15
    while len(hooks.receiver.at("/slow")) < 12 and time.monotonic() < deadline:
        await hooks.dispatcher.tick()  # as `run` does, without waiting for what it sent
        await asyncio.sleep(0.01)
    await hooks.dispatcher.drain()
    assert len(hooks.receiver.at("/slow")) == 12
    assert hooks.receiver.most_in_flight == hooks.dispatcher.per_subscription == 4


async def test_new_events_wait_in_the_outbox_while_every_slot_is_busy(
    hooks: Hooks, app: FastAPI
) -> None:
    """Fan-out is written as fast as it is sent, not as fast as events come: while a round
    fills every free slot, the next does not expand, for `expand_within` at most (slow
    partners must not hold everybody else's new alerts back: test_hook_edges.py); once there
    is room, it does."""
    runtime = app.state.runtime
    small = Dispatcher(
        runtime.db,
        runtime.webhooks.policy.box,
        hooks.dispatcher.transport,
        clock=hooks.clock,
        capacity=2,
        held_seconds=60,  # its receiver is slow, not hanging: its requests keep their slots
        expand_within=timedelta(seconds=60),
    )
    await hooks.subscribe("MY-MMEA", path="/slow")
    hooks.receiver.script["/slow"] = ["slow"] * 4

    async def deliveries() -> int:
        return int(
            await runtime.db.read(lambda s: s.exec(select(func.count(col(Delivery.id)))).one())
        )

    for _ in range(3):
        await hooks.post_alert(handling=handling("network"))
    await small.tick()  # expands 3, claims 2 of them: every slot taken
    assert await deliveries() == 3
    await hooks.post_alert(handling=handling("network"))
    hooks.clock.advance(30)
    await small.tick()  # no room: the fourth event stays in the outbox
    assert await deliveries() == 3
    beat = await runtime.db.read(expansion.heartbeat)
    assert beat is not None
    assert beat > utcnow() + timedelta(seconds=29)  # alive all the same (`/readyz`)
    await hooks.post_alert(handling=handling("network"))
    hooks.clock.advance(31)
    await small.tick()  # still no room, but a minute since the last expansion: both expanded
    assert await deliveries() == 5
    await small.drain()
    await small.tick()  # room again: the third and fourth are claimed
    assert await deliveries() == 5
    await small.drain()
    while await small.tick():
        await small.drain()
    assert len(hooks.receiver.at("/slow")) == 5


async def test_an_expand_unit_is_bounded_by_the_deliveries_it_writes(
    hooks: Hooks, app: FastAPI
) -> None:
    """Events nobody subscribed to cost no rows and do not count against the bound; the
    unit stops after the event that reaches it, and the rest follow next round."""
    db = app.state.runtime.db
    for agency in ("MY-MMEA", "ID-BASARNAS", "TH-MRCC"):
        await hooks.subscribe(agency, filter={"categories": ["landing"]})
    for _ in range(5):
        await hooks.post_alert(category="interception", handling=handling("network"))
    for _ in range(2):
        await hooks.post_alert(category="landing", handling=handling("network"))

    async def deliveries() -> int:
        return int(await db.read(lambda s: s.exec(select(func.count(col(Delivery.id)))).one()))

    expand = partial(expansion.expand, now=hooks.clock(), max_rows=3)
    assert await db.write(expand) == 6  # five that match nobody, then one to all three
    assert await deliveries() == 3
    assert await db.write(expand) == 1
    assert await deliveries() == 6
    assert await db.write(expand) == 0


async def test_rotated_secret_signs_beside_the_old_one(hooks: Hooks) -> None:
    subscription, old = await hooks.subscribe("MY-MMEA")
    admin = await hooks.network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    rotated = await hooks.network.http.post(
        f"/v1/subscriptions/{subscription}/rotate-secret", headers=admin
    )
    new = rotated.json()["secret"]
    assert new != old
    await hooks.post_alert(handling=handling("network"))
    await hooks.pump()
    [delivery] = hooks.receiver.received
    assert len(delivery.headers["webhook-signature"].split()) == 2
    assert verify(new, delivery)["type"] == "alert.created"
    assert verify(old, delivery)["type"] == "alert.created"
    hooks.clock.advance(25 * 3600)  # the old secret stops signing after 24 h
    await hooks.network.http.post(f"/v1/subscriptions/{subscription}/ping", headers=admin)
    await hooks.pump()
    assert len(hooks.receiver.received[-1].headers["webhook-signature"].split()) == 1
    assert fails(old, hooks.receiver.received[-1])


async def test_replay_and_redeliver(hooks: Hooks) -> None:
    subscription, secret = await hooks.subscribe("MY-MMEA")
    since = utcnow() - timedelta(seconds=1)
    await hooks.post_alert(handling=handling("network"))
    await hooks.pump()
    admin = await hooks.network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    replayed = await hooks.network.http.post(
        f"/v1/subscriptions/{subscription}/replay",
        json={"since": since.isoformat()},
        headers=admin,
    )
    assert replayed.status_code == 202
    assert replayed.json()["state"] == "running"  # queued by the dispatcher, not the request
    assert replayed.headers["location"] == f"/v1/subscriptions/{subscription}/replay"
    await hooks.pump()
    progress = await hooks.network.http.get(replayed.headers["location"], headers=admin)
    assert progress.json()["state"] == "done"
    assert progress.json()["queued"] == 1
    assert progress.json()["remaining"] == 0
    [first, again] = hooks.receiver.received
    assert first.headers["webhook-id"] == again.headers["webhook-id"]
    [row] = await hooks.deliveries("MY-MMEA", subscription)
    redelivered = await hooks.network.http.post(
        f"/v1/deliveries/{row['id']}/redeliver", headers=admin
    )
    assert redelivered.status_code == 200
    await hooks.pump()
    assert len(hooks.receiver.received) == 3
    other = await hooks.network.headers(Role.AGENCY_ADMIN, "TH-MECC")
    hidden = await hooks.network.http.post(f"/v1/deliveries/{row['id']}/redeliver", headers=other)
    assert hidden.status_code == 404


async def test_disclosures_are_audited(hooks: Hooks) -> None:
    await hooks.subscribe("MY-MMEA")
    alert = await hooks.post_alert(handling=handling("network"))
    await hooks.pump()
    admin = await hooks.network.headers(Role.PLATFORM_ADMIN)
    events = (
        await hooks.network.http.get(
            "/v1/audit-events?action=webhook%20alert.created", headers=admin
        )
    ).json()["items"]
    [event] = events
    assert event["actor_agency"] == "MY-MMEA"
    assert event["object_id"] == alert["id"]
    assert event["outcome"] == "success"


async def test_the_recipients_auditor_sees_deliveries_to_its_agencies(hooks: Hooks) -> None:
    """A disclosure is filed under the sender's country and the recipient agency's, delivered
    or not; a third country's auditor sees neither."""
    await hooks.subscribe("MY-MMEA", "/ok")
    await hooks.subscribe("ID-BASARNAS", "/down")
    hooks.receiver.script["/down"] = [500]
    await hooks.post_alert(handling=handling("network"))
    await hooks.pump()
    url = "/v1/audit-events?action=webhook%20alert.created"

    async def seen_by(agency: str) -> set[tuple[str, str, str]]:
        auditor = await hooks.network.headers(Role.AUDITOR, agency)
        items = (await hooks.network.http.get(url, headers=auditor)).json()["items"]
        return {(e["actor_agency"], e["actor_country"], e["outcome"]) for e in items}

    delivered, failed = ("MY-MMEA", "MY", "success"), ("ID-BASARNAS", "ID", "error")
    assert await seen_by("MY-MMEA") == {delivered}
    assert await seen_by("ID-BASARNAS") == {failed}
    assert await seen_by("BD-CG") == {delivered, failed}  # the sender's
    assert await seen_by("TH-MECC") == set()


class NulAnswering(Receiver):
    """Answers 500 with NUL bytes in its body, which PostgreSQL cannot store as text."""

    async def _answer(self, request: web.Request) -> web.Response:
        self.received.append(Received(request.path, dict(request.headers), await request.text()))
        return web.Response(status=500, body=b"\x00down\x00", content_type="text/plain")


async def test_a_receivers_answer_cannot_poison_its_settlement(hooks: Hooks) -> None:
    """NUL bytes in a receiver's answer are stored replaced: its attempt is recorded and its
    retry scheduled (unrecorded, it was resent every lease, forever, never backing off)."""
    async with running(NulAnswering()) as hostile:
        admin = await hooks.network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
        body = {"url": hostile.url("/nul"), "event_types": ["*"]}
        created = await hooks.network.http.post("/v1/subscriptions", json=body, headers=admin)
        assert created.status_code == 201, created.text
        await hooks.post_alert(handling=handling("network"))
        await hooks.pump()
        [row] = await hooks.deliveries("MY-MMEA", created.json()["id"])
    assert len(hostile.received) == 1
    assert row["state"] == "pending"
    [attempt] = row["attempts"]
    assert attempt["status_code"] == 500
    assert attempt["response_excerpt"] == "\ufffddown\ufffd"


async def test_subscriptions_belong_to_their_agency(hooks: Hooks) -> None:
    subscription, _ = await hooks.subscribe("MY-MMEA")
    other = await hooks.network.headers(Role.AGENCY_ADMIN, "TH-MECC")
    url = f"/v1/subscriptions/{subscription}"
    assert (await hooks.network.http.get(url, headers=other)).status_code == 404
    assert (await hooks.network.http.delete(url, headers=other)).status_code == 404
    listed = (await hooks.network.http.get("/v1/subscriptions", headers=other)).json()
    assert listed == []
    duty = await hooks.network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    assert (await hooks.network.http.get("/v1/subscriptions", headers=duty)).status_code == 403
    mine = await hooks.network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    listing = (await hooks.network.http.get("/v1/subscriptions", headers=mine)).json()
    assert "secret" not in listing[0]
    assert (await hooks.network.http.delete(url, headers=mine)).status_code == 200
    assert (await hooks.network.http.get(url, headers=mine)).status_code == 404


async def test_bad_subscriptions_are_422(hooks: Hooks) -> None:
    admin = await hooks.network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    for body, field in (
        ({"url": "ftp://x.example/h", "event_types": ["*"]}, "url"),
        ({"url": hooks.receiver.url(), "event_types": ["alert.exploded"]}, "event_types.0"),
        (
            {"url": hooks.receiver.url(), "event_types": ["*"], "filter": {"bbox": [1, 2]}},
            "filter.bbox",
        ),
        ({"url": hooks.receiver.url(), "event_types": ["*"], "secret": "mine"}, "secret"),
    ):
        response = await hooks.network.http.post("/v1/subscriptions", json=body, headers=admin)
        assert response.status_code == 422, body
        fields = [e["field"] for e in response.json()["errors"]]
        assert any(f.startswith(field) for f in fields), response.text


async def test_patching_url_or_event_types_to_null_is_422(hooks: Hooks) -> None:
    """Found by schemathesis: a null stored NULL in a required column, and a 500."""
    admin = await hooks.network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    subscription, _ = await hooks.subscribe("MY-MMEA")
    url = f"/v1/subscriptions/{subscription}"
    for field in ("url", "event_types"):
        response = await hooks.network.http.patch(url, json={field: None}, headers=admin)
        assert response.status_code == 422, response.text
        assert field in [e["field"] for e in response.json()["errors"]]
    kept = (await hooks.network.http.get(url, headers=admin)).json()
    assert kept["url"] == hooks.receiver.url("/hook")
    assert kept["event_types"] == ["*"]


async def test_the_dispatcher_loop_delivers_promptly(hooks: Hooks) -> None:
    await hooks.subscribe("MY-MMEA")
    stop = asyncio.Event()
    loop = asyncio.create_task(
        Dispatcher(
            hooks.dispatcher.db,
            hooks.dispatcher.box,
            Transport(networks(["127.0.0.0/8"]), allow_http=True),
        ).run(stop)
    )
    await asyncio.sleep(0.2)
    sender = await hooks.network.headers(Role.DUTY_OFFICER, "BD-CG")  # Argon2: not the dispatch
    began = time.monotonic()
    body = alert_body(handling=handling("network"))
    assert (await hooks.network.http.post("/v1/alerts", json=body, headers=sender)).is_success
    await hooks.receiver.wait_for(1, timeout=3)
    assert time.monotonic() - began < 1.0  # from the POST to the verified delivery
    stop.set()
    await loop


async def test_a_freed_slot_is_used_at_once_not_after_an_idle_period(hooks: Hooks) -> None:
    """Due work left for want of a slot (a partner at its share of four, or every slot of
    the dispatcher taken) goes out as soon as a delivery finishes. The loop used to sleep its
    idle period with that work waiting: four deliveries an idle period to a partner catching
    up on a backlog. Here the idle period is a minute, so nothing can wait for it."""
    await hooks.subscribe("MY-MMEA")
    for capacity, delivered in ((256, 12), (2, 24)):  # a partner's share; every slot
        for _ in range(12):
            await hooks.post_alert(handling=handling("network"))
        transport = Transport(networks(["127.0.0.0/8"]), allow_http=True)
        dispatcher = Dispatcher(
            hooks.dispatcher.db,
            hooks.dispatcher.box,
            transport,
            capacity=capacity,
            idle_seconds=60,
        )
        stop = asyncio.Event()
        loop = asyncio.create_task(dispatcher.run(stop))
        try:
            await hooks.receiver.wait_for(delivered, timeout=10)
        finally:
            stop.set()
            await asyncio.wait_for(loop, 10)  # the stop ends the idle wait too


async def test_while_requests_queue_fan_out_keeps_fewer_deliveries_open(
    hooks: Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API and the dispatcher share one process: while requests queue for the writer
    (`Writer.requests_queueing`, tested in test_writer.py) the dispatcher keeps at most
    `loaded_capacity` deliveries open, and once they stop, its whole capacity again."""
    hooks.receiver.slow_seconds = 5.0  # every delivery is held open meanwhile
    for n in range(8):
        path = f"/q/{n}"
        await hooks.subscribe(("MY-MMEA", "TH-MECC")[n % 2], path=path)
        hooks.receiver.script[path] = ["slow"] * 4
    for _ in range(4):
        await hooks.post_alert(handling=handling("network"))  # 32 due: 8 partners at their 4
    dispatcher, writer = hooks.dispatcher, hooks.dispatcher.db.writer
    dispatcher.capacity, dispatcher.loaded_capacity = 32, 6
    dispatcher.metrics = Metrics()
    held_back = "rilon_dispatcher_held_back_rounds_total"  # what an operator sees of it
    monkeypatch.setattr(writer, "requests_queueing", lambda: True)
    for _ in range(3):
        await dispatcher.tick()
        await until(lambda: hooks.receiver.in_flight >= 6, "six deliveries open", 5)
    await asyncio.sleep(0.3)
    assert hooks.receiver.in_flight == hooks.receiver.most_in_flight == 6
    assert dispatcher.metrics.registry.get_sample_value(held_back) == 3

    monkeypatch.setattr(writer, "requests_queueing", lambda: False)
    await dispatcher.tick()
    await until(lambda: hooks.receiver.in_flight >= 32, "every delivery open", 5)
    await dispatcher.drain()
    assert len(hooks.receiver.received) == 32
    assert dispatcher.metrics.registry.get_sample_value(held_back) == 3


async def test_workers_share_the_load_without_double_claiming(
    hooks: Hooks, database_url: str
) -> None:
    """Three dispatchers on their own connections (as three worker processes would)."""
    for n in range(10):
        await hooks.subscribe(("MY-MMEA", "TH-MECC")[n % 2], path=f"/w/{n}")
    for _ in range(5):
        await hooks.post_alert(handling=handling("network"))
    workers = []
    for _ in range(3):
        db = Database(database_url)
        db.start()
        transport = Transport(networks(["127.0.0.0/8"]), allow_http=True)
        await transport.start()
        workers.append((db, transport, Dispatcher(db, hooks.dispatcher.box, transport)))
    try:
        for _ in range(20):
            busy = await asyncio.gather(*(w.tick() for _db, _t, w in workers))
            await asyncio.gather(*(w.drain() for _db, _t, w in workers))
            if not any(busy) and len(hooks.receiver.received) >= 50:
                break
    finally:
        for db, transport, _w in workers:
            await transport.close()
            db.close()
    pairs = [(r.path, r.headers["webhook-id"]) for r in hooks.receiver.received]
    assert len(pairs) == 50
    assert len(set(pairs)) == 50  # nothing was sent twice


async def test_one_settle_unit_records_a_mixed_batch(hooks: Hooks) -> None:
    """Successes (in Core) and failures (one by one) settled in one unit, each recorded and
    audited; a delivery gone meanwhile is neither."""
    subscription, _ = await hooks.subscribe("MY-MMEA")
    for _ in range(3):
        await hooks.post_alert(handling=handling("network"))
    db = hooks.dispatcher.db
    await db.write(partial(expansion.expand, now=hooks.clock()))
    claim = partial(outbox.claim, box=hooks.dispatcher.box, now=hooks.clock(), limit=10)
    first, second, third = sorted(await db.write(claim), key=lambda job: job.delivery_id)
    gone = replace(third, delivery_id="no-such-delivery")
    now = hooks.clock()
    outcomes = await db.write(
        partial(
            settling.settle_many,
            finished=[
                (first, Result(200, 1.0), now),
                (second, Result(500, 1.0, "boom"), now),
                (gone, Result(200, 1.0), now),
            ],
        )
    )
    assert outcomes == ["delivered", "retry", "gone"]
    rows = {row["id"]: row for row in await hooks.deliveries("MY-MMEA", subscription)}
    assert rows[first.delivery_id]["state"] == "succeeded"
    assert [a["status_code"] for a in rows[first.delivery_id]["attempts"]] == [200]
    assert rows[second.delivery_id]["state"] == "pending"
    assert [a["status_code"] for a in rows[second.delivery_id]["attempts"]] == [500]
    assert rows[third.delivery_id]["attempts"] == []
    admin = await hooks.network.headers(Role.PLATFORM_ADMIN)
    url = "/v1/audit-events?action=webhook%20alert.created"
    audited = (await hooks.network.http.get(url, headers=admin)).json()["items"]
    assert sorted(event["outcome"] for event in audited) == ["error", "success"]
