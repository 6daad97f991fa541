"""Webhook subscriptions of an agency: made, changed, rotated, enabled, deleted."""

import base64
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, func, select

from auth.passwords import WEBHOOK_SECRET_PREFIX
from auth.principal import Principal
from core.clock import utcnow
from core.crypto import SecretBox
from core.errors import Conflict, Hidden, NotFound
from core.ids import new_id
from models.subscriptions import (
    Subscription,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPatch,
    SubscriptionRead,
)

ROTATION_OVERLAP = timedelta(hours=24)


@dataclass(frozen=True)
class WebhookPolicy:
    box: SecretBox
    max_per_agency: int


def new_secret() -> str:
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


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


def get(session: Session, principal: Principal, subscription_id: str) -> SubscriptionRead:
    return read(own(session, principal, subscription_id))


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
        id=new_id(),
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
    deliveries are removed afterwards by the dispatcher, a chunk a round (`delivery/purge.py`):
    a subscription with a large backlog must not hold everyone's writes while it goes."""
    row = own(session, principal, subscription_id)
    shown = read(row)
    now = utcnow()
    row.enabled, row.deleted_at, row.due_at, row.updated_at = False, now, None, now
    session.add(row)
    return shown


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
