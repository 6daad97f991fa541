"""Which events become deliveries for a subscription: from its creation on, never earlier
(a replay sends earlier ones), however far behind the dispatcher is when it subscribes."""

import json

from sqlalchemy import update
from sqlmodel import col

from core.db import Database
from models.enums import AgencyType, Role
from models.registry import Agency
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
