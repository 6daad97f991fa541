"""The one decode function refuses every forged, stale or odd token."""

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

from auth.tokens import (
    LEEWAY_SECONDS,
    MAX_TOKEN_BYTES,
    TokenKeys,
    VerifiedTokens,
    decode_token,
    issue_token,
)
from core.errors import Unauthorized
from models.enums import Role, Scope
from tests.conftest import TEST_JWT_KEYS

KEYS = TokenKeys(
    signing_kid="new",
    keys={"new": b"n" * 40, "old": b"o" * 40},
    issuer="rilon",
    audience="rilon-api",
    ttl_seconds=900,
)


def _payload(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": "rilon",
        "aud": "rilon-api",
        "sub": "th-mecc-1",
        "jti": "j1",
        "iat": now,
        "exp": now + 600,
        "agency": "TH-MECC",
        "country": "TH",
        "roles": ["viewer"],
        "scope": "alerts:read",
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def _sign(payload: dict[str, Any], key: bytes = b"n" * 40, **headers: Any) -> str:
    return jwt.encode(payload, key, algorithm="HS256", headers={"kid": "new", **headers})


def test_issued_token_round_trips() -> None:
    token, claims = issue_token(
        KEYS,
        client_id="c1",
        agency="TH-MECC",
        country="TH",
        roles=[Role.VIEWER],
        scopes=[Scope.ALERTS_READ],
    )
    decoded = decode_token(token, KEYS)
    assert decoded == claims
    assert jwt.get_unverified_header(token)["kid"] == "new"


def test_key_being_rotated_out_still_verifies() -> None:
    token = jwt.encode(_payload(), b"o" * 40, algorithm="HS256", headers={"kid": "old"})
    assert decode_token(token, KEYS).client_id == "th-mecc-1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _alg_none() -> str:
    header = _b64(json.dumps({"alg": "none", "kid": "new"}).encode())
    return f"{header}.{_b64(json.dumps(_payload()).encode())}."


def _tampered() -> str:
    header, _, signature = _sign(_payload()).split(".")
    body = _b64(json.dumps(_payload(roles=["agency_admin"])).encode())
    return f"{header}.{body}.{signature}"


def _forgeries() -> dict[str, str]:
    """Built when each test runs: times are relative to now, and a long suite outlives them."""
    forgeries = {
        "alg none": _alg_none(),
        "tampered claims": _tampered(),
        "expired": _sign(_payload(iat=int(time.time()) - 1000, exp=int(time.time()) - 100)),
        "issued in the future": _sign(
            _payload(iat=int(time.time()) + 600, exp=int(time.time()) + 900)
        ),
        "lifetime over the cap": _sign(_payload(exp=int(time.time()) + 7200)),
        "wrong audience": _sign(_payload(aud="someone-else")),
        "wrong issuer": _sign(_payload(iss="evil")),
        "unknown kid": jwt.encode(_payload(), b"n" * 40, algorithm="HS256", headers={"kid": "k9"}),
        "no kid": jwt.encode(_payload(), b"n" * 40, algorithm="HS256"),
        "signed with another key": _sign(_payload(), key=b"x" * 40),
        "HS512 instead of HS256": jwt.encode(
            _payload(), b"n" * 40, algorithm="HS512", headers={"kid": "new"}
        ),
        "jku header": _sign(_payload(), jku="https://evil.example/keys"),
        "x5u header": _sign(_payload(), x5u="https://evil.example/cert"),
        "jwk header": _sign(_payload(), jwk={"kty": "oct", "k": "AAAA"}),
        "x5c header": _sign(_payload(), x5c=["MIIB"]),
        "oversized": _sign(_payload(padding="x" * MAX_TOKEN_BYTES)),
        "scope beyond roles": _sign(_payload(scope="alerts:read registry:manage")),
        "unknown role": _sign(_payload(roles=["god"])),
        "exp as string": _sign(_payload(exp=str(int(time.time()) + 600))),
        "roles as string": _sign(_payload(roles="viewer")),
        "garbage": "not-a-token",
    }
    forgeries.update(
        {
            f"missing {claim}": _sign(_payload(**{claim: None}))
            for claim in (
                "exp",
                "iat",
                "aud",
                "iss",
                "sub",
                "jti",
                "agency",
                "country",
                "roles",
                "scope",
            )
        }
    )
    return forgeries


@pytest.mark.parametrize("name", list(_forgeries()))
def test_forged_tokens_are_refused(name: str) -> None:
    with pytest.raises(Unauthorized):
        decode_token(_forgeries()[name], KEYS)


def test_clock_skew_leeway_is_for_iat_only() -> None:
    """A replica whose clock runs ahead may issue a token "from the future" by a few seconds;
    expiry is exact: the issuer and every verifier are this service."""
    now = int(time.time())
    ahead = _sign(_payload(iat=now + LEEWAY_SECONDS - 5, exp=now + 600))
    assert decode_token(ahead, KEYS).jti == "j1"
    with pytest.raises(Unauthorized, match="expired"):
        decode_token(_sign(_payload(iat=now - 600, exp=now - 1)), KEYS)


def test_a_token_verified_before_still_expires_to_the_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Verified tokens are remembered (no second signature check), not their validity."""
    now = int(time.time())
    keys = TokenKeys("new", {"new": b"n" * 40}, "rilon", "rilon-api", 900)
    token = _sign(_payload(iat=now, exp=now + 10))
    assert decode_token(token, keys).jti == "j1"
    assert keys.verified.get(token) is not None
    monkeypatch.setattr(time, "time", lambda: now + 10.9)
    assert decode_token(token, keys).jti == "j1"  # exp itself is still valid, as jose has it
    monkeypatch.setattr(time, "time", lambda: now + 11.0)
    with pytest.raises(Unauthorized, match="expired"):
        decode_token(token, keys)


def test_only_verified_tokens_are_remembered_and_the_oldest_leave_first() -> None:
    keys = TokenKeys("new", {"new": b"n" * 40}, "rilon", "rilon-api", 900)
    forged = _sign(_payload(), key=b"x" * 40)
    with pytest.raises(Unauthorized):
        decode_token(forged, keys)
    assert keys.verified.get(forged) is None
    small = VerifiedTokens(size=2)
    claims = decode_token(_sign(_payload()), KEYS)
    for token in ("a", "b", "c"):
        small.put(token, claims)
    assert [small.get(token) is not None for token in ("a", "b", "c")] == [False, True, True]


def _api_forgeries() -> dict[str, str]:
    """The same forgeries, signed with the keys the test app trusts."""
    good = TEST_JWT_KEYS["test-2026-11"].encode()
    now = int(time.time())
    base = _payload(iss="rilon", aud="rilon-api")

    def sign(payload: dict[str, Any], key: bytes = good, **headers: Any) -> str:
        return jwt.encode(
            payload, key, algorithm="HS256", headers={"kid": "test-2026-11", **headers}
        )

    return {
        "alg none": _alg_none(),
        "expired": sign({**base, "iat": now - 1000, "exp": now - 100}),
        "future iat": sign({**base, "iat": now + 600, "exp": now + 900}),
        "wrong audience": sign({**base, "aud": "other"}),
        "wrong issuer": sign({**base, "iss": "other"}),
        "unknown kid": jwt.encode(base, good, algorithm="HS256", headers={"kid": "nope"}),
        "another key": sign(base, key=b"z" * 48),
        "jku": sign(base, jku="https://evil.example/jwks"),
        "oversized": sign({**base, "pad": "x" * MAX_TOKEN_BYTES}),
        **{
            f"missing {c}": sign({k: v for k, v in base.items() if k != c})
            for c in ("exp", "iat", "aud", "iss", "sub", "jti")
        },
    }


@pytest.mark.parametrize("name", list(_api_forgeries()))
async def test_forged_tokens_get_401_from_the_api(client: httpx.AsyncClient, name: str) -> None:
    token = _api_forgeries()[name]
    response = await client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, name
    assert response.headers["content-type"] == "application/problem+json"


def _public_key_forms() -> dict[str, bytes]:
    public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return {
        "PEM": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "DER": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    }


@pytest.mark.parametrize("form", ["PEM", "DER"])
def test_hs256_signed_with_a_public_key_is_refused(form: str) -> None:
    """The classic confusion: the attacker HMACs with a public key (jose itself won't sign it)."""
    key = _public_key_forms()[form]
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "new"}).encode())
    body = _b64(json.dumps(_payload()).encode())
    mac = hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest()
    token = f"{header}.{body}.{_b64(mac)}"
    with pytest.raises(Unauthorized):
        decode_token(token, KEYS)


def _confused() -> dict[str, dict[str, Any]]:
    return {
        "exp as string": {"exp": str(int(time.time()) + 600)},
        "exp as float": {"exp": time.time() + 600.5},
        "exp as bool": {"exp": True},
        "exp past time_t": {"exp": 10**20},  # was an OverflowError (a 500) in datetime
        "exp at 2**63": {"exp": 2**63},
        "iat far before 1970": {"iat": -(10**20)},
        "iat as float": {"iat": time.time()},
        "iat as NaN": {"iat": float("nan")},
        "nbf in the future": {"nbf": int(time.time()) + 300},
        "nbf as string": {"nbf": "soon"},
        "aud as list of ints": {"aud": [1, 2]},
        # A list naming us among others: jose accepts it, we do not. This service only ever
        # issues `aud` as one string, so any other form is not a token of ours (DECISIONS.md).
        "aud as list with ours and junk": {"aud": ["rilon-api", "junk"]},
        "aud as list of ours alone": {"aud": ["rilon-api"]},
        "iss as list": {"iss": ["rilon"]},
        "sub as number": {"sub": 42},
        "jti as number": {"jti": 5},
        "scope as list": {"scope": ["alerts:read"]},
        "roles as dict": {"roles": {"viewer": True}},
        "country as list": {"country": ["TH"]},
        "agency as object": {"agency": {"code": "TH-MECC"}},
        "agency_type as number": {"agency_type": 3},
        "agency_type unknown": {"agency_type": "submarine"},
    }


@pytest.mark.parametrize("name", list(_confused()))
def test_claim_type_confusion_is_refused(name: str) -> None:
    with pytest.raises(Unauthorized):
        decode_token(_sign(_payload(**_confused()[name])), KEYS)


KID_INJECTIONS = [
    "../../etc/passwd",
    "/dev/null",
    "' OR '1'='1",
    "' OR 1=1 --",
    "new\x00",
    "\x00new",
    "x" * 500,
    "x" * 3000,
    "",
    "NEW",
    " new",
    "n\u0435w",  # Cyrillic e
    "\u202enew",  # right-to-left override
    "ключ",
    7,
    None,
    ["new"],
    {"kid": "new"},
]


@pytest.mark.parametrize("kid", KID_INJECTIONS)
def test_kid_injection_is_an_unknown_key(kid: Any) -> None:
    token = jwt.encode(_payload(), b"n" * 40, algorithm="HS256", headers={"kid": kid})
    with pytest.raises(Unauthorized):
        decode_token(token, KEYS)


def test_rs256_with_a_private_key_and_alg_none_variants_are_refused() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tokens = [jwt.encode(_payload(), pem, algorithm="RS256", headers={"kid": "new"})]
    for alg in ("none", "None", "NONE", "nOnE", ""):
        header = _b64(json.dumps({"alg": alg, "kid": "new"}).encode())
        body = _b64(json.dumps(_payload()).encode())
        tokens += [f"{header}.{body}.", f"{header}.{body}.{_sign(_payload()).split('.')[2]}"]
    for token in tokens:
        with pytest.raises(Unauthorized):
            decode_token(token, KEYS)


def test_a_key_removed_from_the_set_no_longer_verifies() -> None:
    """After rotation the old key is dropped: its tokens are an unknown key, even if unexpired."""
    token = jwt.encode(_payload(), b"o" * 40, algorithm="HS256", headers={"kid": "old"})
    rotated = TokenKeys("new", {"new": b"n" * 40}, "rilon", "rilon-api", 900)
    with pytest.raises(Unauthorized, match="unknown key"):
        decode_token(token, rotated)
