"""What a token request presents: OAuth2 client credentials, as form fields or HTTP Basic
(RFC 6749 §2.3.1), checked for shape before any secret is looked at."""

import base64
import binascii
from urllib.parse import unquote

from core.errors import BadRequest, Unauthorized

CLIENT_ID_MAX, SECRET_MAX = 64, 200  # as stored: longer can be no client's


def _malformed() -> Unauthorized:
    return Unauthorized("malformed Basic credentials", error="invalid_client")


def from_basic(authorization: str) -> tuple[str, str] | None:
    """The client id and secret of an `Authorization: Basic` header, if that is what it is."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _malformed() from exc
    client_id, sep, secret = decoded.partition(":")
    client_id, secret = unquote(client_id), unquote(secret)
    if not sep or len(secret) > SECRET_MAX:
        raise _malformed()
    return client_id, secret


def presented(
    grant_type: str | None,
    authorization: str,
    client_id: str | None,
    client_secret: str | None,
) -> tuple[str, str]:
    """The client id and secret a token request presents; 400 for another grant type, 401
    when either is missing (Basic wins over form fields, as RFC 6749 prefers)."""
    if grant_type != "client_credentials":
        raise BadRequest(
            "grant_type must be client_credentials", extra={"error": "unsupported_grant_type"}
        )
    basic = from_basic(authorization)
    if basic is not None:
        client_id, client_secret = basic
    if not client_id or not client_secret:
        raise Unauthorized("client_id and client_secret are required", error="invalid_client")
    return client_id, client_secret


def is_plausible_id(client_id: str) -> bool:
    """Could any client have this id? (PostgreSQL could not even look a NUL up.)"""
    return len(client_id) <= CLIENT_ID_MAX and client_id.isprintable()
