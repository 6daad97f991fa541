"""Webhook subscriptions of an agency: made, changed, rotated, pinged, replayed."""

import base64
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table
from sqlmodel import Session, col, func, select

from auth.principal import Principal
from core.clock import utcnow
from core.crypto import SecretBox
from core.errors import Conflict, Hidden, NotFound
from models.subscriptions import (
    Delivery,
    Replay,
    Subscription,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPatch,
    SubscriptionRead,
)
from services import pacing
from services.delivery_reads import deliveries_json, delivery_json
from services.dispatch import ATTEMPT, DELIVERY, SUBSCRIPTION
from services.records import iso

ROTATION_OVERLAP = timedelta(hours=24)
REPLAY = cast(Table, Replay.__table__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class WebhookPolicy:
    box: SecretBox
    max_per_agency: int


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def read(row: Subscription) -> SubscriptionRead:
    return SubscriptionRead(
        id=row.id,
        agency=row.agency,
        url=row.url,
        description=row.description,
        event_types=row.event_types,
        filter=row.filter,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def own(session: Session, principal: Principal, subscription_id: str) -> Subscription:
    """The caller's agency's subscription; any other is a 404 (audited as a denial)."""
    row = session.get(Subscription, subscription_id)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"no subscription {subscription_id}")
    if row.agency != principal.agency:
        raise Hidden(f"no subscription {subscription_id}")
    return row


def create(
    session: Session, principal: Principal, data: SubscriptionCreate, policy: WebhookPolicy
) -> SubscriptionCreated:
    count = session.exec(
        select(func.count())
        .select_from(Subscription)
        .where(col(Subscription.agency) == principal.agency, col(Subscription.deleted_at).is_(None))
    ).one()
    if count >= policy.max_per_agency:
        raise Conflict(f"{principal.agency} already has {count} subscriptions, the most allowed")
    secret = new_secret()
    now = utcnow()
    row = Subscription(
        id=str(uuid.uuid4()),
        agency=principal.agency,
        client_id=principal.client_id,
        url=data.url,
        description=data.description,
        event_types=list(data.event_types),
        filter=data.filter.model_dump(mode="json", exclude_none=True),
        secret=policy.box.seal(secret),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    return SubscriptionCreated(**read(row).model_dump(), secret=secret)


def list_own(session: Session, principal: Principal) -> list[SubscriptionRead]:
    query = select(Subscription).where(
        col(Subscription.agency) == principal.agency, col(Subscription.deleted_at).is_(None)
    )
    return [read(row) for row in session.exec(query.order_by(col(Subscription.created_at)))]


def update(
    session: Session, principal: Principal, subscription_id: str, patch: SubscriptionPatch
) -> SubscriptionRead:
    row = own(session, principal, subscription_id)
    changes = patch.model_dump(exclude_unset=True, mode="json")
    for name in ("url", "description", "event_types"):
        if name in changes:
            setattr(row, name, changes[name])
    if patch.filter is not None:
        row.filter = patch.filter.model_dump(mode="json", exclude_none=True)
    row.updated_at = utcnow()
    session.add(row)
    return read(row)


def delete(session: Session, principal: Principal, subscription_id: str) -> SubscriptionRead:
    """Stop deliveries for good; what was sent stays in the audit trail. The subscription's
    deliveries are removed afterwards by the dispatcher, a chunk a round (`purge_deleted`):
    a subscription with a large backlog must not hold everyone's writes while it goes."""
    row = own(session, principal, subscription_id)
    shown = read(row)
    now = utcnow()
    row.enabled, row.deleted_at, row.due_at, row.updated_at = False, now, None, now
    session.add(row)
    return shown


def purge_deleted(session: Session, chunk: int = 1000) -> int:
    """Remove up to `chunk` deliveries of deleted subscriptions (with their attempts), and a
    deleted subscription itself once none is left; return the rows removed."""
    run = session.connection().execute
    gone = run(
        select(Subscription.id).where(col(Subscription.deleted_at).is_not(None)).limit(1)
    ).scalar()
    if gone is None:
        return 0
    ids = list(
        run(select(Delivery.id).where(col(Delivery.subscription_id) == gone).limit(chunk)).scalars()
    )
    if ids:
        run(ATTEMPT.delete().where(ATTEMPT.c.delivery_id.in_(ids)))
        run(DELIVERY.delete().where(DELIVERY.c.id.in_(ids)))
        return len(ids)
    run(REPLAY.delete().where(REPLAY.c.subscription_id == gone))
    run(SUBSCRIPTION.delete().where(SUBSCRIPTION.c.id == gone))
    return 1


def rotate(
    session: Session, principal: Principal, subscription_id: str, policy: WebhookPolicy
) -> SubscriptionCreated:
    """A new secret; for 24 hours the old one signs too, so receivers can switch over."""
    row = own(session, principal, subscription_id)
    secret = new_secret()
    now = utcnow()
    row.previous_secret, row.previous_secret_until = row.secret, now + ROTATION_OVERLAP
    row.secret, row.updated_at = policy.box.seal(secret), now
    session.add(row)
    return SubscriptionCreated(**read(row).model_dump(), secret=secret)


def enable(session: Session, principal: Principal, subscription_id: str) -> SubscriptionRead:
    row = own(session, principal, subscription_id)
    row.enabled, row.disabled_reason, row.failing_since = True, None, None
    row.consecutive_failures, row.due_at = 0, utcnow()  # its turn comes at once
    row.updated_at = row.due_at
    session.add(row)
    return read(row)


def ping(session: Session, principal: Principal, subscription_id: str) -> dict[str, Any]:
    """Queue a `ping` event for this subscription alone."""
    row = own(session, principal, subscription_id)
    now = utcnow()
    event_id = str(uuid.uuid4())
    payload = json.dumps(
        {
            "id": event_id,
            "type": "ping",
            "timestamp": iso(now),
            "cursor": None,
            "data": {"subscription_id": row.id},
        },
        separators=(",", ":"),
    )
    delivery = Delivery(
        id=str(uuid.uuid4()),
        subscription_id=row.id,
        event_id=event_id,
        event_type="ping",
        payload=payload,
        state="pending",
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    pacing.wake_now(session.connection(), row.id, now)
    return {"delivery_id": delivery.id, "event_id": event_id}


def list_deliveries(
    session: Session, principal: Principal, subscription_id: str, state: str | None
) -> list[dict[str, Any]]:
    row = own(session, principal, subscription_id)
    query = select(Delivery).where(col(Delivery.subscription_id) == row.id)
    if state is not None:
        query = query.where(col(Delivery.state) == state)
    found = session.exec(query.order_by(col(Delivery.created_at).desc()).limit(200)).all()
    return deliveries_json(session, found)


def redeliver(session: Session, principal: Principal, delivery_id: str) -> dict[str, Any]:
    """Send a delivery again now, whatever became of it."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id}")
    subscription = session.get(Subscription, delivery.subscription_id)
    if subscription is None or subscription.agency != principal.agency:
        raise Hidden(f"no delivery {delivery_id}")  # never name the other agency's subscription
    delivery.state, delivery.next_attempt_at, delivery.lease_until = "pending", utcnow(), None
    session.add(delivery)
    session.flush()
    pacing.wake_now(session.connection(), subscription.id, delivery.next_attempt_at)
    return delivery_json(session, delivery)
