"""Typed dependencies: who is calling, with which scopes, and the process's runtime."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.openapi.models import OAuth2 as OAuth2Model
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase

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
from services.records.polls import Polls
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
    polls: Polls


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class ClientCredentialsBearer(SecurityBase):
    """The caller, from its bearer token: `Security(authenticate, scopes=[...])`.

    One dependency that is also the OpenAPI security scheme (the OAuth2 client-credentials
    flow behind Swagger UI's Authorize button), so FastAPI solves one dependant a request
    where a scheme, the runtime and the check beneath them took three (docs/PERFORMANCE.md).
    """

    def __init__(self) -> None:
        flows = OAuthFlows(
            clientCredentials=OAuthFlowClientCredentials(
                tokenUrl=TOKEN_URL, scopes=dict(SCOPE_DESCRIPTIONS)
            )
        )
        self.model = OAuth2Model(flows=flows)
        self.scheme_name = "ClientCredentials"

    async def __call__(self, request: Request, security_scopes: SecurityScopes) -> Principal:
        runtime: Runtime = request.app.state.runtime
        claims = decode_token(_bearer(request), runtime.keys)
        await runtime.limiter.check("request:" + claims.client_id)
        context = current_context()
        principal = principal_of(claims) if context is not None and context.gated else None
        if principal is None:
            principal = await runtime.db.read(load_principal, claims)
        elif context is not None:
            # Checked later, but before anything is written or answered: a read in a thread
            # of its own here cost about a quarter of B1's throughput (docs/DECISIONS.md).
            context.unchecked = claims
        if context is not None:
            context.principal = principal
        missing = sorted(set(security_scopes.scopes) - principal.scopes)
        if missing:
            wanted = " ".join(missing)
            raise Forbidden(
                f"this token lacks the scope {wanted}",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope" scope="{wanted}"'},
            )
        check_parameters(request)  # where FastAPI validates its own: after the caller is known
        return principal


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required", error="invalid_request")
    return token.strip()


authenticate = ClientCredentialsBearer()


def _scoped(*scopes: Scope) -> object:
    return Security(authenticate, scopes=list(scopes))


Caller = Annotated[Principal, Security(authenticate)]
RegistryManager = Annotated[Principal, _scoped(Scope.REGISTRY_MANAGE)]
ClientsManager = Annotated[Principal, _scoped(Scope.CLIENTS_MANAGE)]
