"""The registry: countries, agencies and their API clients."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.auditing import audited_write
from api.deps import Caller, ClientsManager, RegistryManager, RuntimeDep
from api.errors import problems
from models.registry import (
    AGENCY_CODE,
    COUNTRY_CODE,
    AgencyCreate,
    AgencyRead,
    ClientCreate,
    ClientCreated,
    ClientRead,
    CountryCreate,
    CountryRead,
)
from services.registry import members

router = APIRouter(prefix="/v1", tags=["registry"], responses=problems(401, 403, 429))
AgencyCode = Annotated[str, Path(pattern=AGENCY_CODE, description="Agency code, e.g. TH-MECC")]


@router.get("/countries", summary="List member countries", response_model=list[CountryRead])
async def list_countries(caller: Caller, runtime: RuntimeDep) -> list[CountryRead]:
    """The member countries, by ISO 3166-1 alpha-2 code."""
    return await runtime.db.read(members.list_countries)


@router.post(
    "/countries",
    summary="Register a country",
    status_code=201,
    response_model=CountryRead,
    responses=problems(409, 422),
)
async def create_country(
    body: CountryCreate, caller: RegistryManager, runtime: RuntimeDep, response: Response
) -> CountryRead:
    """Platform admins only."""
    created = await audited_write(runtime, members.create_country, body)
    response.headers["Location"] = "/v1/countries"
    return created


@router.get("/agencies", summary="List agencies", response_model=list[AgencyRead])
async def list_agencies(
    caller: Caller,
    runtime: RuntimeDep,
    country: Annotated[str | None, Query(pattern=COUNTRY_CODE)] = None,
) -> list[AgencyRead]:
    """Every agency of the network (filter by `country`); address records to their codes."""
    return await runtime.db.read(members.list_agencies, country)


@router.post(
    "/agencies",
    summary="Register an agency",
    status_code=201,
    response_model=AgencyRead,
    responses=problems(409, 422),
)
async def create_agency(
    body: AgencyCreate, caller: RegistryManager, runtime: RuntimeDep, response: Response
) -> AgencyRead:
    """Platform admins only. Register the country first. The agencies of its country (and
    every MRCC, for an MRCC) are told by an `agency.created` event."""
    created = await audited_write(runtime, members.create_agency, body, caller)
    response.headers["Location"] = f"/v1/agencies/{created.code}"
    return created


@router.get(
    "/agencies/{code}", summary="Get an agency", response_model=AgencyRead, responses=problems(404)
)
async def get_agency(code: AgencyCode, caller: Caller, runtime: RuntimeDep) -> AgencyRead:
    """One agency by its code."""
    return await runtime.db.read(members.get_agency, code)


@router.post(
    "/agencies/{code}/clients",
    summary="Create an API client for an agency",
    status_code=201,
    response_model=ClientCreated,
    responses=problems(404, 409, 422),
)
async def create_client(
    code: AgencyCode,
    body: ClientCreate,
    caller: ClientsManager,
    runtime: RuntimeDep,
    response: Response,
) -> ClientCreated:
    """Create a client. Its `client_secret` is in this answer only: store it now.

    Agency admins create clients for their own agency, with roles they hold themselves. A
    client a platform admin creates for another agency is announced to that agency's admins
    (`client.created`) and flagged in the audit trail.
    """
    created = await audited_write(runtime, members.create_client, caller, code, body)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Location"] = f"/v1/agencies/{code}/clients"
    return created


@router.get(
    "/agencies/{code}/clients",
    summary="List an agency's API clients",
    response_model=list[ClientRead],
    responses=problems(404),
)
async def list_clients(
    code: AgencyCode, caller: ClientsManager, runtime: RuntimeDep
) -> list[ClientRead]:
    """Your agency's clients (platform admins: any agency's); secrets never again."""
    return await runtime.db.read(members.list_clients, caller, code)


@router.delete(
    "/clients/{client_id}",
    summary="Deactivate an API client",
    response_model=ClientRead,
    responses=problems(404),
)
async def deactivate_client(
    client_id: Annotated[str, Path(max_length=64)], caller: ClientsManager, runtime: RuntimeDep
) -> ClientRead:
    """Deactivate a client: every token it holds stops working at once."""
    return await audited_write(runtime, members.deactivate_client, caller, client_id)
