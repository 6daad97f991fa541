"""Webhook subscriptions and their deliveries, for agency admins."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, Security

from api.auditing import audited_write, ensure_standing
from api.deps import RuntimeDep, authenticate
from api.errors import problems
from auth.principal import Principal
from core.resolver import vet_url
from delivery import manual, reads, replays
from models.enums import Scope
from models.subscriptions import (
    DeliveryRead,
    ReplayRead,
    ReplayRequest,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPatch,
    SubscriptionRead,
)
from services.webhooks import subscriptions

router = APIRouter(prefix="/v1", tags=["webhooks"], responses=problems(401, 403, 404, 429))
Manager = Annotated[Principal, Security(authenticate, scopes=[Scope.SUBSCRIPTIONS_MANAGE])]
SubscriptionId = Annotated[str, Path(max_length=36)]
NO_STORE = {"Cache-Control": "no-store"}


async def _vet(runtime: RuntimeDep, url: str) -> None:
    """Resolve and vet the URL (on the resolver's own threads, in bounded time), once the
    caller is known to be in good standing: a revoked token resolves nothing."""
    await ensure_standing(runtime)
    await vet_url(runtime.webhooks.resolver, url, runtime.settings.webhook_allow_http)


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=SubscriptionCreated,
    responses=problems(409, 422),
    summary="Subscribe to events by webhook",
)
async def create(
    body: SubscriptionCreate, caller: Manager, runtime: RuntimeDep, response: Response
) -> SubscriptionCreated:
    """Events your agency may see are POSTed to `url`, signed per Standard Webhooks with the
    `secret` in this answer (shown once). https only; private addresses are refused."""
    await _vet(runtime, body.url)
    created = await audited_write(
        runtime, subscriptions.create, caller, body, runtime.webhooks.policy
    )
    response.headers.update({**NO_STORE, "Location": f"/v1/subscriptions/{created.id}"})
    return created


@router.get("/subscriptions", response_model=list[SubscriptionRead], summary="Your subscriptions")
async def list_own(caller: Manager, runtime: RuntimeDep) -> list[SubscriptionRead]:
    """Your agency's subscriptions. Secrets are never shown again."""
    return await runtime.db.read(subscriptions.list_own, caller)


@router.get(
    "/subscriptions/{subscription_id}", response_model=SubscriptionRead, summary="A subscription"
)
async def get(subscription_id: SubscriptionId, caller: Manager, runtime: RuntimeDep) -> Any:
    """One of your agency's subscriptions."""
    return await runtime.db.read(subscriptions.get, caller, subscription_id)


@router.patch(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionRead,
    responses=problems(422),
    summary="Change a subscription",
)
async def update(
    subscription_id: SubscriptionId, body: SubscriptionPatch, caller: Manager, runtime: RuntimeDep
) -> SubscriptionRead:
    """Change the URL, description, event types or filter; the secret stays."""
    if body.url is not None:
        await _vet(runtime, body.url)
    return await audited_write(runtime, subscriptions.update, caller, subscription_id, body)


@router.delete(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionRead,
    summary="Delete a subscription",
)
async def delete(subscription_id: SubscriptionId, caller: Manager, runtime: RuntimeDep) -> Any:
    """Stop all deliveries to it for good."""
    return await audited_write(runtime, subscriptions.delete, caller, subscription_id)


@router.post(
    "/subscriptions/{subscription_id}/rotate-secret",
    response_model=SubscriptionCreated,
    summary="Rotate the signing secret",
)
async def rotate(
    subscription_id: SubscriptionId, caller: Manager, runtime: RuntimeDep, response: Response
) -> SubscriptionCreated:
    """A new secret, shown once. For 24 hours deliveries carry two signatures, one per secret."""
    rotated = await audited_write(
        runtime,
        subscriptions.rotate,
        caller,
        subscription_id,
        runtime.webhooks.policy,
    )
    response.headers.update(NO_STORE)
    return rotated


@router.post(
    "/subscriptions/{subscription_id}/ping",
    status_code=202,
    responses=problems(409),
    summary="Send a test event",
)
async def ping(subscription_id: SubscriptionId, caller: Manager, runtime: RuntimeDep) -> Any:
    """Queue a `ping` for this subscription alone: checks the receiver and its
    signature check. `409` while the subscription is disabled: enable it first."""
    return await audited_write(runtime, manual.ping, caller, subscription_id)


@router.post(
    "/subscriptions/{subscription_id}/enable",
    response_model=SubscriptionRead,
    summary="Enable a disabled subscription",
)
async def enable(subscription_id: SubscriptionId, caller: Manager, runtime: RuntimeDep) -> Any:
    """Resume a subscription disabled after a 410 or 72 hours of failures; its
    pending deliveries go out again."""
    return await audited_write(runtime, subscriptions.enable, caller, subscription_id)


@router.post(
    "/subscriptions/{subscription_id}/replay",
    status_code=202,
    response_model=ReplayRead,
    responses=problems(422),
    summary="Send past events again",
)
async def replay(
    subscription_id: SubscriptionId,
    body: ReplayRequest,
    caller: Manager,
    runtime: RuntimeDep,
    response: Response,
) -> ReplayRead:
    """Queue again every matching event since `since` that your agency may see, a chunk at
    a time in the background (follow it with `GET` on this path). Duplicates keep their
    `webhook-id`, so receivers de-duplicate them. A new replay replaces one still running."""
    limits = runtime.webhooks.replay_limits
    started = await audited_write(
        runtime, replays.start, caller, subscription_id, since=body.since, limits=limits
    )
    response.headers["Location"] = f"/v1/subscriptions/{subscription_id}/replay"
    return started


@router.get(
    "/subscriptions/{subscription_id}/replay",
    response_model=ReplayRead,
    summary="How far the last replay has got",
)
async def replay_progress(
    subscription_id: SubscriptionId, caller: Manager, runtime: RuntimeDep
) -> ReplayRead:
    """The subscription's latest replay: events still to look at and deliveries queued."""
    return await runtime.db.read(replays.get, caller, subscription_id)


@router.get(
    "/subscriptions/{subscription_id}/deliveries",
    response_model=list[DeliveryRead],
    summary="Deliveries and their attempts",
)
async def deliveries(
    subscription_id: SubscriptionId,
    caller: Manager,
    runtime: RuntimeDep,
    state: Annotated[Literal["pending", "succeeded", "failed"] | None, Query()] = None,
) -> Any:
    """The latest 200 deliveries with every attempt: time, status code, latency,
    error and the start of the answer."""
    return await runtime.db.read(reads.list_deliveries, caller, subscription_id, state)


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryRead,
    responses=problems(409),
    summary="Send a delivery again",
)
async def redeliver(
    delivery_id: Annotated[str, Path(max_length=36)], caller: Manager, runtime: RuntimeDep
) -> Any:
    """Send a delivery again now, whatever became of it (same `webhook-id`). `409` while
    its subscription is disabled: enable it, which sends what is pending."""
    return await audited_write(runtime, manual.redeliver, caller, delivery_id)
