"""The service as a newcomer sets it up from the docs alone, as real processes on 127.0.0.1.

`rilon serve` on SQLite with a bootstrap platform admin (docs/OPERATOR.md), then over HTTP
only: register Malaysia, two agencies and their clients, get tokens with client credentials
as the curl line in docs/INTEGRATION.md does (HTTP Basic), post alerts.
"""

import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.processes import Process, Processes, child_env, supervised
from tests.support import alert_body

ADMIN_ID = "secretariat-admin"
RECEIVER = Path(__file__).resolve().parent.parent / "examples" / "receiver" / "receiver.py"
PYTHON = sys.executable


@dataclass
class Newcomer:
    api: Process
    processes: Processes
    http: httpx.AsyncClient
    credentials: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> id, secret

    async def token(self, name: str, scope: str | None = None) -> str:
        client_id, secret = self.credentials[name]
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        answer = await self.http.post("/v1/auth/token", data=form, auth=(client_id, secret))
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    async def headers(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(name)}"}

    async def created(self, path: str, body: dict[str, Any], as_: str) -> dict[str, Any]:
        answer = await self.http.post(path, json=body, headers=await self.headers(as_))
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    async def add_client(self, name: str, agency: str, role: str, as_: str = "admin") -> None:
        body = {"name": name, "roles": [role]}
        made = await self.created(f"/v1/agencies/{agency}/clients", body, as_)
        self.credentials[name] = (made["client_id"], made["client_secret"])

    async def register(self) -> None:
        """Malaysia, MY-MMEA (the agency integrating) and TH-MECC (who sends it alerts)."""
        await self.created("/v1/countries", {"code": "MY", "name": "Malaysia"}, "admin")
        for code, name, country in (
            ("MY-MMEA", "Malaysian Maritime Enforcement Agency", "MY"),
            ("TH-MECC", "Thai Maritime Enforcement Command Center", "TH"),
        ):
            body = {"code": code, "name": name, "country": country, "type": "coast_guard"}
            await self.created("/v1/agencies", body, "admin")
        await self.add_client("mmea-admin", "MY-MMEA", "agency_admin")
        await self.add_client("mmea-watch", "MY-MMEA", "duty_officer", as_="mmea-admin")
        await self.add_client("mecc-watch", "TH-MECC", "duty_officer")

    async def post_alert(self, headline: str, distribution: str = "countries") -> dict[str, Any]:
        """TH-MECC tells Malaysia (or, `national`, Thailand only), asking for acknowledgements."""
        handling: dict[str, Any] = {"distribution": distribution, "tlp": "amber"}
        if distribution == "countries":
            handling["recipient_countries"] = ["MY"]
        body = alert_body(headline=headline, handling={**handling, "ack_required": True})
        headers = {**await self.headers("mecc-watch"), "Idempotency-Key": str(uuid.uuid4())}
        answer = await self.http.post("/v1/alerts", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())


@asynccontextmanager
async def newcomer(workdir: Path) -> AsyncIterator[Newcomer]:
    """`rilon serve` (dispatcher on, webhooks to 127.0.0.0/8 over http) and a registry."""
    admin_secret = secrets.token_urlsafe(32)
    env = child_env(
        f"sqlite:///{workdir / 'rilon.db'}",
        workdir,
        RILON_BOOTSTRAP_ADMIN_ID=ADMIN_ID,
        RILON_BOOTSTRAP_ADMIN_SECRET=admin_secret,
        RILON_DISPATCHER="true",
    )
    with supervised(workdir, env) as processes:
        api = processes.add("serve", "serve")
        await api.start()
        async with httpx.AsyncClient(base_url=api.url(), timeout=10) as http:
            rig = Newcomer(api, processes, http, {"admin": (ADMIN_ID, admin_secret)})
            await rig.register()
            yield rig
