"""Revoked tokens and the shapes of the token endpoints."""

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime
from models.registry import AgencyRead


class RevokedToken(SQLModel, table=True):
    __tablename__ = "revoked_token"

    jti: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(foreign_key="client.client_id", index=True, max_length=64)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime = Field(sa_type=UTCDateTime)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    scope: str


class Me(BaseModel):
    client_id: str
    client_name: str
    agency: AgencyRead
    country: str
    roles: list[str]
    scopes: list[str]
    token_expires_at: datetime
