"""OAuth2 client credentials: token, revocation, and who am I."""

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response

from api.auditing import audited_write
from api.context import note_actor, note_token_request
from api.deps import Caller, RuntimeDep
from api.errors import problems
from api.parameters import ignores_unknown_query
from api.throttle import source_of
from auth import credentials
from auth.credentials import CLIENT_ID_MAX, SECRET_MAX
from auth.tokens import decode_token
from core.errors import Unauthorized
from models.tokens import Me, TokenResponse
from services.registry import tokens

router = APIRouter(prefix="/v1/auth", tags=["auth"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post(
    "/token",
    summary="Get an access token (OAuth2 client credentials)",
    response_model=TokenResponse,
    responses=problems(400, 401, 429),
    dependencies=[Depends(ignores_unknown_query)],  # RFC 6749 §3.2
)
async def token(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    grant_type: Annotated[str | None, Form(description="Always `client_credentials`")] = None,
    client_id: Annotated[str | None, Form(max_length=CLIENT_ID_MAX)] = None,
    client_secret: Annotated[str | None, Form(max_length=SECRET_MAX)] = None,
    scope: Annotated[str | None, Form(description="Space-separated subset of your scopes")] = None,
) -> TokenResponse:
    """Exchange client credentials for a bearer token valid for `expires_in` seconds.

    Send the credentials as form fields or as HTTP Basic. Ask for fewer scopes with `scope`.
    Swagger UI's **Authorize** button does this for you.
    """
    client_id, client_secret = credentials.presented(
        grant_type, request.headers.get("authorization", ""), client_id, client_secret
    )
    note_token_request(client_id, scope)
    source = source_of(request.client.host if request.client else None)
    await runtime.throttle.admit(source)
    if not credentials.is_plausible_id(client_id):
        raise Unauthorized("invalid client credentials", error="invalid_client")
    verify = partial(runtime.throttle.verify, source, client_id)
    issued, claims = await tokens.issue(
        runtime.db, runtime.keys, client_id, client_secret, scope, verify
    )
    note_actor(claims.client_id, claims.agency, claims.country)
    await runtime.limiter.check("token:" + client_id)  # only successes spend this budget
    response.headers.update(NO_STORE)
    return issued


@router.post(
    "/revoke",
    summary="Revoke an access token (RFC 7009)",
    responses=problems(401, 403, 429),
)
async def revoke(
    caller: Caller,
    runtime: RuntimeDep,
    token: Annotated[
        str, Form(min_length=1, max_length=4096, description="The access token to revoke")
    ],
    token_type_hint: Annotated[str | None, Form()] = None,
) -> dict[str, bool]:
    """Revoke one of your own tokens, or one of a client your agency administers.

    A token that is already invalid or expired needs no revoking: the answer is 200 with
    `revoked: false`, as RFC 7009 asks.
    """
    try:
        target = decode_token(token, runtime.keys)
    except Unauthorized:
        return {"revoked": False}
    await audited_write(runtime, tokens.revoke, caller, target)
    return {"revoked": True}


@router.get("/me", summary="Who am I", response_model=Me, responses=problems(401, 429))
async def me(caller: Caller, runtime: RuntimeDep) -> Me:
    """The client behind this token: agency, country, roles and granted scopes."""
    return await runtime.db.read(tokens.describe, caller)
