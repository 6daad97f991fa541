"""Deleted subscriptions leave: their deliveries a bounded chunk a dispatcher round, then the
subscription itself (a large backlog must not hold everyone's writes while it goes)."""

from sqlmodel import Session, col, select

from models.subscriptions import Delivery, Subscription
from models.tables import ATTEMPT, DELIVERY, REPLAY, SUBSCRIPTION

# Asked every dispatcher round, so built once (building it cost more than running it).
_ONE_GONE = select(Subscription.id).where(col(Subscription.deleted_at).is_not(None)).limit(1)


def deleted(session: Session, chunk: int = 1000) -> int:
    """Remove up to `chunk` deliveries of deleted subscriptions (with their attempts), and a
    deleted subscription itself once none is left; return the rows removed."""
    run = session.connection().execute
    gone = run(_ONE_GONE).scalar()
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
