"""Typed dependencies: who is calling, with which scopes, and the process's runtime."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2, SecurityScopes
from starlette.requests import HTTPConnection

from api.context import current_context
from api.parameters import check_parameters
from api.ratelimit import RateLimiter
from api.throttle import TokenThrottle
from auth.principal import Principal
from auth.scopes import SCOPE_DESCRIPTIONS
from auth.tokens import TokenKeys, decode_token
from core.db import Database
from core.errors import Forbidden, Unauthorized
from core.metrics import Metrics
from core.netguard import Network
from core.resolver import Resolver
from core.settings import Settings
from delivery.replays import ReplayLimits
from models.enums import Scope
from services.records.retention import Retention
from services.registry.tokens import load_principal, principal_of
from services.webhooks.subscriptions import WebhookPolicy

TOKEN_URL = "/v1/auth/token"


@dataclass(frozen=True)
class Webhooks:
    policy: WebhookPolicy
    allowed_networks: list[Network]
    replay_limits: ReplayLimits
    resolver: Resolver  # subscribe-time lookups of webhook hosts


@dataclass
class Runtime:
    settings: Settings
    db: Database
    keys: TokenKeys
    limiter: RateLimiter
    throttle: TokenThrottle
    webhooks: Webhooks
    metrics: Metrics
    retention: Retention


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class ClientCredentialsBearer(OAuth2):
    """OAuth2 client-credentials flow; Swagger UI's Authorize button uses it."""

    def __init__(self) -> None:
        flows = OAuthFlows(
            clientCredentials=OAuthFlowClientCredentials(
                tokenUrl=TOKEN_URL, scopes=dict(SCOPE_DESCRIPTIONS)
            )
        )
        super().__init__(flows=flows, scheme_name="ClientCredentials", auto_error=False)

    async def __call__(self, request: HTTPConnection) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("a bearer token is required", error="invalid_request")
        return token.strip()


bearer_token = ClientCredentialsBearer()


async def authenticate(
    request: Request,
    security_scopes: SecurityScopes,
    runtime: RuntimeDep,
    token: Annotated[str, Depends(bearer_token)],
) -> Principal:
    claims = decode_token(token, runtime.keys)
    await runtime.limiter.check("request:" + claims.client_id)
    context = current_context()
    principal = principal_of(claims) if context is not None and context.gated else None
    if principal is None:
        principal = await runtime.db.read(load_principal, claims)
    elif context is not None:
        # Checked later, but before anything is written or answered: a read in a thread of
        # its own here cost about a quarter of B1's throughput (docs/DECISIONS.md).
        context.unchecked = claims
    if context is not None:
        context.principal = principal
    missing = sorted(set(security_scopes.scopes) - principal.scopes)
    if missing:
        raise Forbidden(
            f"this token lacks the scope {' '.join(missing)}",
            headers={
                "WWW-Authenticate": f'Bearer error="insufficient_scope" scope="{" ".join(missing)}"'
            },
        )
    check_parameters(request)  # where FastAPI validates its own: after the caller is known
    return principal


def _scoped(*scopes: Scope) -> object:
    return Security(authenticate, scopes=list(scopes))


Caller = Annotated[Principal, Security(authenticate)]
RegistryManager = Annotated[Principal, _scoped(Scope.REGISTRY_MANAGE)]
ClientsManager = Annotated[Principal, _scoped(Scope.CLIENTS_MANAGE)]
