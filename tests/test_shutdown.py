"""`rilon serve` told to stop (SIGTERM, as systemd, docker and Kubernetes do) in the middle of
writes: every request it acknowledged is stored, and it exits by itself."""

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from core.db import normalize_url
from tests.processes import child_env, run, supervised
from tests.support import alert_body, handling, until
from tests.test_crash import demo_credentials

POSTERS = 16


async def _post(http: httpx.AsyncClient, url: str, headers: dict[str, str], got: list[str]) -> None:
    body = alert_body(handling=handling("network"))
    while True:
        try:
            answer = await http.post(url, json=body, headers=headers)
        except httpx.TransportError:
            return  # the server is going: nothing was acknowledged
        if answer.status_code == 201:
            got.append(answer.json()["id"])
        elif answer.status_code != 503:
            return


@pytest.mark.anyio
async def test_sigterm_mid_writes_loses_no_acknowledged_record(
    database_url: str, tmp_path: Path
) -> None:
    env = child_env(database_url, tmp_path)
    credentials = demo_credentials(await run(tmp_path, env, "demo"))
    accepted: list[str] = []
    with supervised(tmp_path, env) as processes:
        api = processes.add("serve", "serve")
        await api.start()
        assert api.popen is not None
        async with httpx.AsyncClient(timeout=30) as http:
            form = {
                "grant_type": "client_credentials",
                "client_id": "demo-bd-cg-duty",
                "client_secret": credentials["demo-bd-cg-duty"],
            }
            token = (await http.post(api.url("/v1/auth/token"), data=form)).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            posters = [
                asyncio.create_task(_post(http, api.url("/v1/alerts"), headers, accepted))
                for _ in range(POSTERS)
            ]
            await until(lambda: len(accepted) >= 50, "50 alerts accepted", 60)
            os.kill(api.popen.pid, signal.SIGTERM)
            await asyncio.wait_for(asyncio.gather(*posters), 60)
            code = await asyncio.to_thread(api.popen.wait, 60)
    assert code in (0, -signal.SIGTERM), api.tail()  # uvicorn re-raises the signal it stopped on
    engine = create_engine(normalize_url(database_url))
    with engine.connect() as connection:
        stored = set(connection.execute(text("SELECT id FROM record")).scalars())
    engine.dispose()
    assert set(accepted) <= stored, f"{len(set(accepted) - stored)} acknowledged, not stored"
