"""Typed settings read from `RILON_*` environment variables."""

import contextlib
import hashlib
import ipaddress
import os
import re
import secrets
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

MIN_SECRET_BYTES = 32
DATABASES = ("sqlite", "postgresql")
BOOTSTRAP_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # a client id (64 at most), no ':' for Basic
DEV_KEY_FILE = "rilon-dev-jwt.key"
DEV_SECRETS_FILE = "rilon-dev-secrets.key"


class Settings(BaseSettings):
    """Every knob of the service; see docs/OPERATOR.md for what each one does."""

    model_config = SettingsConfigDict(env_prefix="RILON_", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    database_url: str = "sqlite:///./rilon.db"
    jwt_secret: SecretStr | None = None
    jwt_keys: dict[str, SecretStr] = Field(default_factory=dict)
    jwt_signing_kid: str | None = None
    jwt_issuer: str = "rilon"
    jwt_audience: str = "rilon-api"
    token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    bootstrap_admin_id: str | None = None
    bootstrap_admin_secret: SecretStr | None = None
    webhook_allowed_networks: list[str] = Field(default_factory=list)
    webhook_allow_http: bool = False
    secrets_key: SecretStr | None = None
    dispatcher: bool = True
    max_subscriptions_per_agency: int = Field(default=50, ge=1)
    delivery_lease_seconds: int = Field(default=60, ge=1)
    replay_max_days: int = Field(default=30, ge=1)
    replay_max_events: int = Field(default=100_000, ge=1)
    # days a record is kept after its last change, by purpose; personal data at most
    # `retention_personal_data_days` (docs/DATA_PROTECTION.md)
    retention_search_and_rescue_days: int = Field(default=1825, ge=1, le=36500)
    retention_border_management_days: int = Field(default=730, ge=1, le=36500)
    retention_law_enforcement_days: int = Field(default=1095, ge=1, le=36500)
    retention_humanitarian_days: int = Field(default=730, ge=1, le=36500)
    retention_personal_data_days: int = Field(default=180, ge=1, le=36500)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    rate_limit_per_minute: int = Field(default=6000, ge=0)
    rate_limit_burst: int = Field(default=200, ge=1)
    token_source_failure_burst: int = Field(default=20, ge=1)
    token_source_failures_per_hour: int = Field(default=60, ge=1)
    token_client_failure_burst: int = Field(default=10, ge=1)
    token_client_failures_per_hour: int = Field(default=60, ge=1)
    token_max_backoff_seconds: int = Field(default=900, ge=1)
    token_verify_concurrency: int = Field(default=2, ge=1, le=64)
    db_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    webhook_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    webhook_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    writer_max_batch: int = Field(default=64, ge=1, le=1024)
    dev_key_dir: Path = Path(".")
    log_format: Literal["json", "text"] | None = None  # None: json in prod, text elsewhere
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    access_log: bool = True

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _database_we_speak(cls, value: str) -> str:
        """A typo or another database fails here, in one line, and not as a driver's traceback
        at the first connection (never echoing the URL: it may hold a password)."""
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError("is not a database URL (sqlite:///PATH or postgresql://…)") from None
        if backend not in DATABASES:
            raise ValueError(f"names {backend}: RILON runs on SQLite or PostgreSQL")
        return value

    @model_validator(mode="after")
    def _check_secrets(self) -> "Settings":
        for kid, key in self.jwt_keys.items():
            if len(key.get_secret_value().encode()) < MIN_SECRET_BYTES:
                raise ValueError(f"RILON_JWT_KEYS: key {kid!r} is shorter than 32 bytes")
        if self.jwt_secret is not None and len(self.jwt_secret.get_secret_value().encode()) < 32:
            raise ValueError("RILON_JWT_SECRET is shorter than 32 bytes")
        if self.jwt_signing_kid is not None and self.jwt_signing_kid not in self.jwt_keys:
            raise ValueError("RILON_JWT_SIGNING_KID names no key of RILON_JWT_KEYS")
        if self.secrets_key is not None and len(self.secrets_key.get_secret_value()) < 32:
            raise ValueError("RILON_SECRETS_KEY is shorter than 32 characters")
        for network in self.webhook_allowed_networks:
            try:
                ipaddress.ip_network(network, strict=False)  # a typo fails at start-up
            except ValueError:
                raise ValueError(
                    f"RILON_WEBHOOK_ALLOWED_NETWORKS: {network!r} is not a network"
                ) from None
        if (self.bootstrap_admin_id is None) != (self.bootstrap_admin_secret is None):
            # one of the pair alone made nothing, silently: no admin where one was expected
            raise ValueError(
                "RILON_BOOTSTRAP_ADMIN_ID and RILON_BOOTSTRAP_ADMIN_SECRET go together"
            )
        if self.bootstrap_admin_id is not None and not BOOTSTRAP_ID.fullmatch(
            self.bootstrap_admin_id
        ):  # a longer one failed start-up on PostgreSQL as "the audit trail refused this row"
            raise ValueError("RILON_BOOTSTRAP_ADMIN_ID is 1-64 of A-Z a-z 0-9 . _ -")
        if self.delivery_lease_seconds <= self.webhook_timeout_seconds:
            # a lease that runs out while its attempt still waits on the receiver lets the
            # delivery be claimed and sent again, and the first answer then settles nothing:
            # a receiver slower than the lease gets each delivery twice or more
            raise ValueError(
                "RILON_DELIVERY_LEASE_SECONDS must be longer than RILON_WEBHOOK_TIMEOUT_SECONDS"
            )
        if self.env == "prod":
            if not self.jwt_keys and self.jwt_secret is None:
                raise ValueError("RILON_ENV=prod needs RILON_JWT_KEYS or RILON_JWT_SECRET")
            if self.secrets_key is None:
                raise ValueError("RILON_ENV=prod needs RILON_SECRETS_KEY")
            admin_secret = self.bootstrap_admin_secret
            if admin_secret is not None and len(admin_secret.get_secret_value()) < 32:
                raise ValueError("RILON_BOOTSTRAP_ADMIN_SECRET is shorter than 32 characters")
        return self

    def signing_keys(self) -> tuple[str, dict[str, bytes]]:
        """Return the signing kid and every key that verifies (several during rotation)."""
        if self.jwt_keys:
            keys = {kid: key.get_secret_value().encode() for kid, key in self.jwt_keys.items()}
            return self.jwt_signing_kid or next(iter(keys)), keys
        secret = (
            self.jwt_secret.get_secret_value().encode()
            if self.jwt_secret is not None
            else _dev_secret(self.dev_key_dir)
        )
        kid = "k-" + hashlib.sha256(secret).hexdigest()[:12]
        return kid, {kid: secret}

    def log_style(self) -> str:
        """JSON lines for log collectors in production; plain text for a developer's terminal."""
        return self.log_format or ("json" if self.env == "prod" else "text")

    def secrets_key_bytes(self) -> bytes:
        """The key that encrypts webhook secrets at rest (they must be recoverable to sign)."""
        if self.secrets_key is not None:
            return self.secrets_key.get_secret_value().encode()
        return _dev_secret(self.dev_key_dir, DEV_SECRETS_FILE)


def _dev_secret(directory: Path, name: str = DEV_KEY_FILE) -> bytes:
    """Generate (once) and reuse a local secret, so dev tokens and webhooks survive restarts.

    `rilon serve --workers N` starts N processes that may all get here at once. Each writes a
    private temporary file and links it into place: the first link wins, the others read the
    winner's secret, and nobody ever reads a half-written file.
    """
    path = directory / name
    if not directory.is_dir():
        raise ValueError(f"RILON_DEV_KEY_DIR: {directory} is not a directory")
    if not path.exists():
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_urlsafe(48).encode())
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process linked first
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    secret = path.read_bytes().strip()
    if len(secret) < MIN_SECRET_BYTES:  # emptied or edited: it would sign with no real key
        raise ValueError(f"{path} holds fewer than 32 bytes: delete it to generate a new key")
    return secret


@lru_cache
def get_settings() -> Settings:
    return Settings()
