"""examples/verify-node/verify.js accepts what the Python standardwebhooks library signs, and
nothing else. Needs `node`: skipped without it, except under CI=true, where it must be there."""

import base64
import json
import os
import secrets
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "verify-node" / "verify.js"
NODE = shutil.which("node")
EVENT_ID = "0b7f6c1e-6c62-4d4c-9a0e-3d1b1c2f9a10"
EVENT: dict[str, Any] = {
    "id": EVENT_ID,
    "type": "distress.created",
    "timestamp": "2026-11-24T03:20:00Z",
    "cursor": "42",
    "data": {"id": "5e65db32-1898-4875-964d-2b87a7938101", "sar_phase": "distress"},
}


@pytest.fixture(scope="module")
def node() -> str:
    if NODE is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is required under CI=true (examples/verify-node)")
        pytest.skip("node is not installed")
    return NODE


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, body: str, at: datetime | None = None) -> dict[str, str]:
    moment = at or datetime.now(UTC)
    signature = Webhook(secret).sign(EVENT_ID, moment, body)
    return {"id": EVENT_ID, "timestamp": str(int(moment.timestamp())), "signature": signature}


def run(
    node: str, secret: str, headers: dict[str, str], body: str
) -> subprocess.CompletedProcess[bytes]:
    args = [node, str(SCRIPT)]
    for name, value in headers.items():
        args += [f"--{name}", value]
    return subprocess.run(
        args,
        input=body.encode(),
        capture_output=True,
        env={"PATH": os.environ.get("PATH", ""), "WEBHOOK_SECRET": secret},
        timeout=30,
        check=False,
    )


def test_a_signed_event_is_accepted(node: str) -> None:
    secret, body = new_secret(), json.dumps(EVENT)
    result = run(node, secret, sign(secret, body), body)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == EVENT


def test_a_tampered_body_is_rejected(node: str) -> None:
    secret, body = new_secret(), json.dumps(EVENT)
    tampered = body.replace('"distress"', '"alert"')
    result = run(node, secret, sign(secret, body), tampered)
    assert result.returncode == 1
    assert b"no matching signature" in result.stderr


def test_an_old_or_future_timestamp_is_rejected(node: str) -> None:
    secret, body = new_secret(), json.dumps(EVENT)
    for skew in (timedelta(minutes=-6), timedelta(minutes=6)):
        headers = sign(secret, body, datetime.now(UTC) + skew)
        result = run(node, secret, headers, body)
        assert result.returncode == 1
        assert b"tolerance" in result.stderr


def test_another_secret_is_rejected(node: str) -> None:
    body = json.dumps(EVENT)
    result = run(node, new_secret(), sign(new_secret(), body), body)
    assert result.returncode == 1


def test_either_signature_verifies_during_a_rotation(node: str) -> None:
    old, new, body = new_secret(), new_secret(), json.dumps(EVENT)
    headers = sign(new, body)
    headers["signature"] = f"{headers['signature']} {sign(old, body)['signature']}"
    for secret in (old, new):
        result = run(node, secret, headers, body)
        assert result.returncode == 0, result.stderr
    assert run(node, new_secret(), headers, body).returncode == 1
