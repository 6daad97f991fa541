"""Countries, agencies and API clients: tables and their request/response schemas."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime
from models.enums import AgencyType, Role
from models.inputs import Input

COUNTRY_CODE = r"^[A-Z]{2}$"
AGENCY_CODE = r"^[A-Z0-9][A-Z0-9-]{1,31}$"


class Country(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=2)
    name: str = Field(max_length=100)


class Agency(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    country: str = Field(foreign_key="country.code", index=True, max_length=2)
    type: str = Field(max_length=20)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Client(SQLModel, table=True):
    client_id: str = Field(primary_key=True, max_length=64)
    agency: str = Field(foreign_key="agency.code", index=True, max_length=32)
    name: str = Field(max_length=200)
    secret_hash: str = Field(max_length=200)
    roles: list[str] = Field(sa_column=Column(JSON, nullable=False))
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    deactivated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CountryCreate(Input):
    code: str = PydanticField(pattern=COUNTRY_CODE, description="ISO 3166-1 alpha-2 code")
    name: str = PydanticField(min_length=1, max_length=100)

    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "TH", "name": "Thailand"}]})


class CountryRead(BaseModel):
    code: str
    name: str


class AgencyCreate(Input):
    code: str = PydanticField(
        pattern=AGENCY_CODE, description="Short upper-case code, by convention `CC-NAME`"
    )
    name: str = PydanticField(min_length=1, max_length=200)
    country: str = PydanticField(pattern=COUNTRY_CODE, description="ISO 3166-1 alpha-2 code")
    type: AgencyType = PydanticField(
        description="`police`, `coast_guard`, `marine_police`, `immigration`, `navy`, "
        "`mrcc` (maritime rescue coordination centre: always sees actual distress reports), "
        "`secretariat` (platform administrators), `other`"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "TH-MECC",
                    "name": "Thai Maritime Enforcement Command Center",
                    "country": "TH",
                    "type": "coast_guard",
                }
            ]
        }
    )


class AgencyRead(BaseModel):
    code: str
    name: str
    country: str
    type: AgencyType


class ClientCreate(Input):
    name: str = PydanticField(min_length=1, max_length=200, description="What the client is for")
    roles: list[Role] = PydanticField(
        min_length=1,
        description="`viewer` reads; `duty_officer` also posts and acknowledges; "
        "`agency_admin` also manages subscriptions and its agency's clients; "
        "`auditor` reads the audit trail of its country; "
        "`platform_admin` manages the registry (secretariat only)",
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "MECC watch floor", "roles": ["duty_officer"]}]}
    )


class ClientRead(BaseModel):
    client_id: str
    agency: str
    name: str
    roles: list[Role]
    active: bool
    created_at: datetime


class ClientCreated(ClientRead):
    client_secret: str = PydanticField(description="Shown once; store it now")
