"""Which events become deliveries for a subscription: from its creation on, never earlier
(a replay sends earlier ones), however far behind the dispatcher is when it subscribes."""

import json

from models.enums import Role
from tests.hooks import Hooks
from tests.support import alert_body, handling


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
