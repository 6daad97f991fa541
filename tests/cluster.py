"""Driving real `rilon serve` processes over HTTP, as an operator and two agencies would.

A fresh database gets its first platform admin from RILON_BOOTSTRAP_ADMIN_*; that admin
registers a small network through the API, whose agencies then post alerts and subscribe.
"""

from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.processes import Process
from tests.support import alert_body, handling

ADMIN_ID = "ops-bootstrap-admin"
ADMIN_SECRET = "bootstrap-admin-secret-" + "x" * 24
BOOTSTRAP = {"RILON_BOOTSTRAP_ADMIN_ID": ADMIN_ID, "RILON_BOOTSTRAP_ADMIN_SECRET": ADMIN_SECRET}
SENDER, SUBSCRIBER, OUTSIDER = "ID-BAKAMLA", "MY-MMEA", "TH-MECC"
NETWORK_ALERT = alert_body(handling=handling("network"))
# Addressed to OUTSIDER alone: nobody at SUBSCRIBER may ever see it, by feed or by webhook.
OUTSIDER_ONLY_ALERT = alert_body(handling=handling("agency", recipient_agencies=[OUTSIDER]))
Headers = dict[str, str]


async def login(http: httpx.AsyncClient, api: Process, client_id: str, secret: str) -> Headers:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    answer = await http.post(api.url("/v1/auth/token"), data=form)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def created(http: httpx.AsyncClient, url: str, headers: Headers, body: Any) -> Any:
    answer = await http.post(url, json=body, headers=headers)
    assert answer.status_code == 201, f"POST {url}: {answer.status_code} {answer.text}"
    return answer.json()


@dataclass
class LiveNetwork:
    """The sender's and the subscribing agency's tokens, and the subscriptions' secrets."""

    sender: Headers
    subscriber: Headers
    secrets: dict[str, str] = field(default_factory=dict)  # receiver path -> webhook secret

    @classmethod
    async def register(
        cls, http: httpx.AsyncClient, admin_api: Process, api: Process
    ) -> "LiveNetwork":
        """Countries, three agencies and two clients, made by the bootstrap admin on
        `admin_api`; the clients' tokens come from `api` (any replica's token works on all)."""
        admin = await login(http, admin_api, ADMIN_ID, ADMIN_SECRET)
        for code, name in (("ID", "Indonesia"), ("MY", "Malaysia")):  # TH comes with the RSO
            await created(http, admin_api.url("/v1/countries"), admin, {"code": code, "name": name})
        for code in (SENDER, SUBSCRIBER, OUTSIDER):
            agency = {"code": code, "name": code, "country": code[:2], "type": "coast_guard"}
            await created(http, admin_api.url("/v1/agencies"), admin, agency)
        tokens = []
        for code, role in ((SENDER, "duty_officer"), (SUBSCRIBER, "agency_admin")):
            body = {"name": f"{code} operations", "roles": [role]}
            client = await created(http, admin_api.url(f"/v1/agencies/{code}/clients"), admin, body)
            tokens.append(await login(http, api, client["client_id"], client["client_secret"]))
        return cls(sender=tokens[0], subscriber=tokens[1])

    async def subscribe(self, http: httpx.AsyncClient, api: Process, url: str, path: str) -> None:
        """Every event type, no filter: what arrives is decided by visibility alone."""
        body = {"url": url, "event_types": ["*"]}
        subscription = await created(http, api.url("/v1/subscriptions"), self.subscriber, body)
        self.secrets[path] = subscription["secret"]

    async def feed(self, http: httpx.AsyncClient, api: Process) -> list[dict[str, Any]]:
        """Every event the sender may see (all it posted), from the start."""
        events: list[dict[str, Any]] = []
        after = "0"
        while True:
            params: dict[str, str | int] = {"after": after, "limit": 500}
            page = await http.get(api.url("/v1/feed"), params=params, headers=self.sender)
            assert page.status_code == 200, page.text
            events += page.json()["events"]
            if not page.json()["events"]:
                return events
            after = page.json()["next_cursor"]
