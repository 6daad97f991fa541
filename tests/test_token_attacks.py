"""Token attacks through the API: every one is a 401 problem+json with a Bearer challenge,
never echoes the token, and never makes the token's claimed client the actor in the trail."""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt
from sqlmodel import col, select

from api.app import create_app
from models.audit import AuditEvent
from models.enums import Role
from tests.conftest import TEST_JWT_KEYS, make_settings
from tests.support import Network

KID = "test-2026-11"
KEY = TEST_JWT_KEYS[KID].encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(claims: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {k: v for k, v in {**claims, **changes}.items() if v is not None}


def _hs256(payload: dict[str, Any], key: bytes = KEY, **header: Any) -> str:
    """Sign by hand, so the key may be anything (jose refuses to HMAC with a PEM key)."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID, **header}).encode())
    body = _b64(json.dumps(payload).encode())
    mac = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


def _attacks(genuine: dict[str, Any]) -> dict[str, str]:
    """Forgeries built on a genuine token's claims: only the attack differs."""
    now = int(time.time())
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    none_head = _b64(json.dumps({"alg": "none", "kid": KID}).encode())
    attacks = {
        "HS256 with the public key as PEM": _hs256(genuine, pem),
        "HS256 with the public key as DER": _hs256(genuine, der),
        "RS256 with a private key": jwt.encode(
            genuine, private_pem, algorithm="RS256", headers={"kid": KID}
        ),
        "alg none": f"{none_head}.{_b64(json.dumps(genuine).encode())}.",
        "expired 1 s ago": _hs256(_claims(genuine, iat=now - 600, exp=now - 1)),
        "exp as string": _hs256(_claims(genuine, exp=str(now + 600))),
        "exp as float": _hs256(_claims(genuine, exp=now + 600.5)),
        "exp past time_t": _hs256(_claims(genuine, exp=10**20)),
        "nbf in the future": _hs256(_claims(genuine, nbf=now + 300)),
        "iat in the future": _hs256(_claims(genuine, iat=now + 300, exp=now + 900)),
        "aud as list of ints": _hs256(_claims(genuine, aud=[1, 2])),
        "aud as list with ours and junk": _hs256(_claims(genuine, aud=["rilon-api", "junk"])),
        "sub as int": _hs256(_claims(genuine, sub=42)),
        "scope as list": _hs256(_claims(genuine, scope=genuine["scope"].split())),
        "country as list": _hs256(_claims(genuine, country=[genuine["country"]])),
        "scope beyond roles": _hs256(_claims(genuine, scope="registry:manage")),
    }
    for kid in ("../../etc/passwd", "' OR 1=1 --", "x" * 2000, KID + "\x00", "ключ", "\u202e"):
        attacks[f"kid {kid[:20]!r}"] = _hs256(genuine, kid=kid)
    return attacks


async def _assert_refused(
    network: Network, token: str, request_id: str, actor: str | None = None
) -> None:
    """401 problem+json, no echo; the trail names a client only when the signature is ours
    (revoked, deactivated: then it is who the token was issued to, never for a forgery)."""
    response = await network.http.get(
        "/v1/auth/me", headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id}
    )
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    answer = response.text + json.dumps(dict(response.headers))
    for part in (token, *[segment for segment in token.split(".") if len(segment) > 8]):
        assert part not in answer
    rows = network.db.run_read(
        lambda s: list(s.exec(select(AuditEvent).where(col(AuditEvent.request_id) == request_id)))
    )
    assert [(row.outcome, row.status_code, row.actor_client) for row in rows] == [
        ("denied", 401, actor)
    ]


async def test_token_attacks_are_401_without_echo(network: Network) -> None:
    token = await network.token(network.role(Role.DUTY_OFFICER))
    genuine = jwt.get_unverified_claims(token)
    assert (await network.http.get("/v1/auth/me", headers=_bearer(token))).status_code == 200
    assert (
        await network.http.get("/v1/auth/me", headers=_bearer(_hs256(genuine)))
    ).status_code == 200  # the hand-signer is right: only the attack makes the difference
    for n, (name, forged) in enumerate(_attacks(genuine).items()):
        try:
            await _assert_refused(network, forged, f"attack-{n}")
        except AssertionError as exc:
            raise AssertionError(name) from exc


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_revoked_and_deactivated_tokens_are_401_without_echo(network: Network) -> None:
    revoked = await network.token(network.add_client("revoked", "TH-MECC", Role.VIEWER))
    gone = network.add_client("gone", "TH-MECC", Role.DUTY_OFFICER)
    gone_token = await network.token(gone)
    answer = await network.http.post(
        "/v1/auth/revoke", data={"token": revoked}, headers=_bearer(revoked)
    )
    assert answer.json() == {"revoked": True}
    admin = await network.headers(Role.AGENCY_ADMIN)
    assert (await network.http.delete(f"/v1/clients/{gone.client_id}", headers=admin)).is_success
    claimed = _claims(jwt.get_unverified_claims(revoked), jti="fresh", agency="MY-MMEA")
    await _assert_refused(network, revoked, "revoked-jti", _client(revoked))
    await _assert_refused(network, gone_token, "deactivated-client", gone.client_id)
    # Only our key can make this one, but the registry still has the last word on the agency.
    await _assert_refused(network, _hs256(claimed), "registry-mismatch", _client(revoked))


def _client(token: str) -> str:
    return str(jwt.get_unverified_claims(token)["sub"])


@pytest.fixture
async def rotated(database_url: str, tmp_path: Path) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two more apps on the same database: one mid-rotation (new key signs, the current one
    still verifies), one after it (the current key removed)."""
    new = {"test-2026-12": "z" * 48}
    apps = [
        create_app(make_settings(database_url, tmp_path, jwt_keys={**new, KID: KEY.decode()})),
        create_app(make_settings(database_url, tmp_path, jwt_keys=new)),
    ]
    clients = []
    async with LifespanManager(apps[0]), LifespanManager(apps[1]):
        for application in apps:
            transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
            clients.append(httpx.AsyncClient(transport=transport, base_url="http://rilon.test"))
        yield clients
        for http in clients:
            await http.aclose()


async def test_a_token_signed_with_a_rotated_out_key_is_401(
    network: Network, rotated: list[httpx.AsyncClient]
) -> None:
    token = await network.token(network.role(Role.VIEWER))
    during, after = rotated
    assert (await during.get("/v1/auth/me", headers=_bearer(token))).status_code == 200
    response = await after.get("/v1/auth/me", headers=_bearer(token))
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert token.split(".")[2] not in response.text
