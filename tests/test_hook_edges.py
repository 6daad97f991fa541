"""A partner's hostile or slow answers: Retry-After in any form, and slow partners that keep
every slot busy for as long as their backlogs last."""

import asyncio
import time
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from cli.main import app as cli
from core.clock import iso, utcnow
from core.netguard import networks
from delivery import outbox, settling
from delivery.dispatcher import Dispatcher
from delivery.transport import Transport
from models.enums import Role
from tests.backlog import add_deliveries
from tests.hooks import Hooks
from tests.receiver import Receiver, running, verify
from tests.support import handling, until


async def _disclosures(hooks: Hooks) -> list[dict[str, Any]]:
    admin = await hooks.network.headers(Role.PLATFORM_ADMIN)
    url = "/v1/audit-events?action=webhook%20alert.created"
    return list((await hooks.network.http.get(url, headers=admin)).json()["items"])


async def test_a_retry_after_of_unicode_digits_cannot_poison_settlement(hooks: Hooks) -> None:
    """`Retry-After: ²` passes `str.isdigit()` but not `float()`: the ValueError once escaped
    the transport, so the attempt was neither recorded nor audited, and the delivery went out
    again every lease (60 s), forever, never backing off and never disabled."""
    subscription, secret = await hooks.subscribe("MY-MMEA")
    hooks.receiver.script["/hook"] = [503, 503, 503]
    hooks.receiver.retry_after = "\u00b2"  # SUPERSCRIPT TWO, sent as UTF-8
    await hooks.post_alert(handling=handling("network"))
    await hooks.pump()
    [sent] = hooks.receiver.received
    verify(secret, sent)  # the record was disclosed to the receiver
    [row] = await hooks.deliveries("MY-MMEA", subscription)
    assert [a["status_code"] for a in row["attempts"]] == [503]
    assert len(await _disclosures(hooks)) == 1


async def test_a_huge_retry_after_cannot_poison_settlement(hooks: Hooks) -> None:
    """`Retry-After: 999999999999` (~31,700 years) once overflowed `now + timedelta` in
    pacing.after_failure: the settle unit failed, the attempt and its audit row were lost and
    the delivery went out again every lease, forever."""
    subscription, secret = await hooks.subscribe("MY-MMEA")
    hooks.receiver.script["/hook"] = [503, 503, 503]
    hooks.receiver.retry_after = "999999999999"
    await hooks.post_alert(handling=handling("network"))
    await hooks.pump()
    [sent] = hooks.receiver.received
    verify(secret, sent)
    [row] = await hooks.deliveries("MY-MMEA", subscription)
    assert [a["status_code"] for a in row["attempts"]] == [503]
    assert len(await _disclosures(hooks)) == 1


A_WEEK = timedelta(days=7)
MARKER = "zqxerasuremarker6161"


@pytest.mark.parametrize(
    "retry_after",
    [str(int(A_WEEK.total_seconds())), format_datetime(utcnow() + A_WEEK, usegmt=True)],
    ids=["seconds", "http-date"],
)
async def test_retry_after_silences_a_subscription_for_at_most_24_hours(
    hooks: Hooks, retry_after: str
) -> None:
    """INTEGRATION.md: 429/503 with Retry-After "sends your endpoint nothing for that long
    (at most 24 h), then one delivery to try". The delivery's own retry was capped at 24 h,
    the subscription's turn was not: a week asked was a week of silence (and, never tried,
    the subscription was never disabled either)."""
    await hooks.subscribe("MY-MMEA")
    hooks.receiver.script["/hook"] = [503]
    hooks.receiver.retry_after = retry_after
    await hooks.post_alert(handling=handling("network"))
    await hooks.pump()
    assert len(hooks.receiver.received) == 1
    hooks.clock.advance(25 * 3600)
    await hooks.pump()
    assert len(hooks.receiver.received) == 2  # not a week later


# --- a healthy partner behind slow ones that keep every slot ------------------------------

SLOW_ANSWER = 0.3  # well under HELD_SECONDS (1 s): a slow partner's requests keep their slots
SLOW_BACKLOG = 100  # 200 posts at 0.3 s on 8 slots: ~7.5 s to drain


async def test_slow_partners_filling_every_slot_do_not_hold_back_a_new_alert(
    hooks: Hooks, app: FastAPI, database_url: str
) -> None:
    """DESIGN.md: "A slow, hanging or dead receiver never delays the others, whatever its
    backlog". Partners that answer in 0.3 s while catching up keep every slot busy (here 8
    slots and 2 partners, as 256 slots and 64 partners in production): each round takes all
    it could, and new events once waited in the outbox until the backlogs had drained (3.5 s
    of a 40-delivery backlog each). Now a round expands at least every `EXPAND_WITHIN`."""
    runtime = app.state.runtime
    transport = Transport(networks(["127.0.0.0/8"]), allow_http=True)  # run() starts it
    dispatcher = Dispatcher(runtime.db, runtime.webhooks.policy.box, transport, capacity=8)
    slow = hooks.receiver
    slow.slow_seconds = SLOW_ANSWER
    for agency, path in (("MY-MMEA", "/slow1"), ("TH-MECC", "/slow2")):
        slow.script[path] = ["slow"] * (SLOW_BACKLOG + 10)
        subscription, _ = await hooks.subscribe(agency, path)
        await asyncio.to_thread(add_deliveries, database_url, subscription, SLOW_BACKLOG)
    stop = asyncio.Event()
    loop = asyncio.create_task(dispatcher.run(stop))
    try:
        await until(lambda: slow.in_flight >= 8, "every slot taken", 10)
        async with running(Receiver()) as healthy:
            admin = await hooks.network.headers(Role.AGENCY_ADMIN, "ID-BASARNAS")
            body = {"url": healthy.url(), "event_types": ["*"]}
            created = await hooks.network.http.post("/v1/subscriptions", json=body, headers=admin)
            assert created.status_code == 201, created.text
            alert = await hooks.post_alert(handling=handling("network"))
            began = time.monotonic()
            await until(lambda: bool(healthy.received), "the healthy partner's alert", 30)
            took = time.monotonic() - began
            left = 2 * SLOW_BACKLOG - len(slow.received)  # (may go below 0: a resend)
            assert (
                verify(created.json()["secret"], healthy.received[0])["data"]["id"] == alert["id"]
            )
            assert took < 2.5, f"the healthy partner waited {took:.2f} s, {left} slow ones left"
            assert left > 0, "the backlogs drained first: the test proves nothing"
    finally:
        stop.set()
        await loop


async def test_a_disabled_subscription_refuses_a_ping_or_a_redelivery_it_would_not_send(
    hooks: Hooks,
) -> None:
    """Both were answered as queued, and waited unsent until someone enabled the subscription
    (for ever, had nobody): a 409 says so, and enabling sends them."""
    subscription, secret = await hooks.subscribe("MY-MMEA")
    hooks.receiver.script["/hook"] = [410]  # 410 Gone disables a subscription at once
    await hooks.post_alert(handling=handling("network"))
    await hooks.pump()
    rows = await hooks.deliveries("MY-MMEA", subscription)  # with its own subscription.disabled
    [row] = [r for r in rows if r["event_type"] == "alert.created"]
    admin = await hooks.network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    http = hooks.network.http
    redeliver = f"/v1/deliveries/{row['id']}/redeliver"
    for path in (redeliver, f"/v1/subscriptions/{subscription}/ping"):
        refused = await http.post(path, headers=admin)
        assert refused.status_code == 409, (path, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert f"/v1/subscriptions/{subscription}/enable" in refused.json()["detail"]
    assert await hooks.deliveries("MY-MMEA", subscription) == rows  # nothing queued
    enabled = await http.post(f"/v1/subscriptions/{subscription}/enable", headers=admin)
    assert enabled.status_code == 200, enabled.text
    assert (await http.post(redeliver, headers=admin)).status_code == 200
    await hooks.pump()
    sent = [verify(secret, received) for received in hooks.receiver.received]
    alerts = [body["data"]["id"] for body in sent if body["type"] == "alert.created"]
    first, again = alerts  # the 410'd one, and again
    assert first == again


async def test_a_delivery_of_a_deleted_subscription_is_not_found(hooks: Hooks) -> None:
    """Its rows are purged a round later; until then a redelivery was answered "pending"."""
    subscription, _ = await hooks.subscribe("MY-MMEA")
    await hooks.post_alert(handling=handling("network"))
    await hooks.pump()
    [row] = await hooks.deliveries("MY-MMEA", subscription)
    admin = await hooks.network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    deleted = await hooks.network.http.delete(f"/v1/subscriptions/{subscription}", headers=admin)
    assert deleted.status_code == 200, deleted.text
    again = await hooks.network.http.post(f"/v1/deliveries/{row['id']}/redeliver", headers=admin)
    assert again.status_code == 404, again.text
    assert again.headers["content-type"] == "application/problem+json"


# --- an attempt that comes back after its delivery was sent again --------------------------

LATE_ANSWER = 1.0  # the first attempt's answer arrives this long after it was sent


async def _first_attempt_in_flight(hooks: Hooks, late: str) -> tuple[str, str, dict[str, Any]]:
    """An alert whose first attempt is open to a receiver that will answer `late`, late."""
    subscription, secret = await hooks.subscribe("MY-MMEA")
    hooks.receiver.slow_seconds = LATE_ANSWER
    hooks.receiver.script["/hook"] = [f"slow:{late}"]  # then 200
    await hooks.post_alert(handling=handling("network"))
    await hooks.dispatcher.tick()
    await until(lambda: hooks.receiver.in_flight == 1, "the first attempt open", 10)
    [row] = await hooks.deliveries("MY-MMEA", subscription)
    return subscription, secret, row


async def _redeliver(hooks: Hooks, delivery_id: str) -> None:
    admin = await hooks.network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    url = f"/v1/deliveries/{delivery_id}/redeliver"
    again = await hooks.network.http.post(url, headers=admin)
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "pending"


@pytest.mark.parametrize("why", ["redelivered", "lease expired"])
async def test_a_late_failure_does_not_undo_the_attempt_that_came_after_it(
    hooks: Hooks, why: str
) -> None:
    """A delivery sent again while an attempt was still open (an admin's redelivery, or a
    lease that ran out while the receiver hung) was settled by whichever attempt answered
    last: the first attempt's late 410 marked the second's success failed. An attempt that no
    longer holds its delivery's lease is recorded and audited, and its answer still counts
    against the subscription (410 disables it), but it changes nothing else of the delivery."""
    subscription, secret, row = await _first_attempt_in_flight(hooks, "410")
    if why == "redelivered":
        await _redeliver(hooks, row["id"])
    else:
        hooks.clock.advance(61)  # past the 60 s lease: another round may claim it
    await hooks.pump()  # sends it again (200) and waits for the first attempt's 410
    first, second = hooks.receiver.received
    assert verify(secret, first)["data"]["id"] == verify(secret, second)["data"]["id"]
    rows = await hooks.deliveries("MY-MMEA", subscription)
    [after] = [r for r in rows if r["event_type"] == "alert.created"]
    assert after["state"] == "succeeded", after
    assert [a["status_code"] for a in after["attempts"]] == [200, 410]  # both recorded
    assert len(await _disclosures(hooks)) == 2
    admin = await hooks.network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    url = f"/v1/subscriptions/{subscription}"
    assert (await hooks.network.http.get(url, headers=admin)).json()["enabled"] is False


async def test_a_redelivery_asked_during_a_last_attempt_is_not_lost(
    hooks: Hooks, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A redelivery answered "pending" while the delivery's last scheduled attempt was open
    (one request a subscription at a time here, so the redelivery waits its turn): that
    attempt's 503 then settled the delivery as failed, and the redelivery never went."""
    monkeypatch.setattr(settling, "RETRY_SCHEDULE", [])  # every first attempt is the last
    runtime = app.state.runtime
    hooks.dispatcher = Dispatcher(
        runtime.db, runtime.webhooks.policy.box, hooks.dispatcher.transport,
        clock=hooks.clock, per_subscription=1,
    )  # fmt: skip
    subscription, secret, row = await _first_attempt_in_flight(hooks, "503")
    await _redeliver(hooks, row["id"])
    await hooks.pump()
    assert len(hooks.receiver.received) == 1  # the subscription's one slot was taken
    [after] = await hooks.deliveries("MY-MMEA", subscription)
    assert after["state"] == "pending", after
    hooks.clock.advance(121)  # the 503's Retry-After (120 s) is respected
    await hooks.pump()
    first, again = hooks.receiver.received
    assert verify(secret, first)["data"]["id"] == verify(secret, again)["data"]["id"]
    [after] = await hooks.deliveries("MY-MMEA", subscription)
    assert after["state"] == "succeeded", after


# --- an erasure notice and the copy it erases, both on their way -----------------------------


async def _erase(hooks: Hooks, cli_env: CliRunner, notice: str, record_id: str) -> None:
    if notice == "redacted":
        sender = await hooks.network.headers(Role.DUTY_OFFICER, "BD-CG")
        body = {"fields": ["description"], "reason": "Informant named by mistake"}
        url = f"/v1/alerts/{record_id}/versions/1/redact"
        assert (await hooks.network.http.post(url, json=body, headers=sender)).status_code == 200
    else:
        later = iso(utcnow() + timedelta(days=3650))  # past any retention
        purged = cli_env.invoke(cli, ["retention", "purge", "--as-of", later])
        assert purged.exit_code == 0, purged.output


@pytest.mark.parametrize("notice", ["redacted", "purged"])
async def test_an_erasure_notice_waits_for_the_copy_still_on_its_way(
    hooks: Hooks, cli_env: CliRunner, notice: str
) -> None:
    """A partner's endpoint was still taking an alert (a slow answer) when its sender
    redacted it, or it was purged: the notice was sent beside it, and a receiver that
    finished the notice first (nothing to change yet) then kept the alert as first sent,
    text and all (examples/receiver does exactly that). A notice now waits until no earlier
    delivery of its record to that subscription is open."""
    _, secret = await hooks.subscribe("MY-MMEA")
    hooks.receiver.slow_seconds = 1.0
    hooks.receiver.script["/hook"] = ["slow"]
    alert = await hooks.post_alert(handling=handling("network"), description=MARKER)
    await hooks.dispatcher.tick()
    await until(lambda: hooks.receiver.in_flight == 1, "the alert on its way", 10)
    await _erase(hooks, cli_env, notice, alert["id"])
    await hooks.pump()  # the alert's answer comes; the notice waited for it
    hooks.clock.advance(outbox.NOTICE_WAIT.total_seconds())
    await hooks.pump()
    first, then = hooks.receiver.received
    assert verify(secret, first)["type"] == "alert.created"
    assert MARKER in first.body
    assert verify(secret, then)["type"] == f"alert.{notice}"
    assert then.alongside == 0, "the notice was sent while the alert was still on its way"


@pytest.mark.parametrize("notice", ["redacted", "purged"])
async def test_an_erasure_notice_claimed_beside_its_copy_waits_for_it(
    hooks: Hooks, cli_env: CliRunner, notice: str
) -> None:
    """Found by tools/chaos.py: an alert redacted (or purged) before the dispatcher's next
    round has its delivery and the notice due at once, and one claim took both: the notice
    went out beside the alert still on its way (a copy claimed in the same claim was not
    counted as open). The notice now waits for it as for a copy claimed earlier."""
    _, secret = await hooks.subscribe("MY-MMEA")
    hooks.receiver.slow_seconds = 1.0
    hooks.receiver.script["/hook"] = ["slow"]
    alert = await hooks.post_alert(handling=handling("network"), description=MARKER)
    await _erase(hooks, cli_env, notice, alert["id"])
    await hooks.pump()  # one claim: both were due
    hooks.clock.advance(outbox.NOTICE_WAIT.total_seconds())
    await hooks.pump()
    sent = {verify(secret, d)["type"]: d for d in hooks.receiver.received}
    assert set(sent) == {"alert.created", f"alert.{notice}"}
    assert MARKER not in sent["alert.created"].body  # sent after the erasure, already erased
    assert sent[f"alert.{notice}"].alongside == 0, "the notice was sent beside the alert"
