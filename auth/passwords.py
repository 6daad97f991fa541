"""Client secrets: random, shown once, stored as Argon2id hashes."""

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's minimum Argon2id profile (19 MiB, 2 passes): the secrets are random, the hash
# only has to make a stolen table useless.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verified when the client id is unknown, so a miss costs as much as a wrong secret.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


SECRET_PREFIX = "rls_"
WEBHOOK_SECRET_PREFIX = "whsec_"  # services/webhooks/subscriptions.py, Standard Webhooks' form


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def looks_like_secret(text: str) -> bool:
    """A client or webhook secret, by its prefix: no client id begins so."""
    return text.startswith((SECRET_PREFIX, WEBHOOK_SECRET_PREFIX))


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(secret_hash: str | None, secret: str) -> bool:
    try:
        return _hasher.verify(secret_hash or _DUMMY_HASH, secret) and secret_hash is not None
    except (VerificationError, InvalidHashError):
        return False
