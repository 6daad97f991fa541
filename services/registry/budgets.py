"""Token buckets kept in the database, so every process of a deployment spends the same ones.

A bucket holds up to `burst` tokens and refills at `rate` a second; a key without a row is a
full bucket. Each function is one unit for `Database.write_apart` (or a read): the row is
locked from the first statement to the commit, so processes take turns on one bucket. Times are
the processes' wall clocks (Unix seconds): replicas must keep them in step (NTP); a skew of
`d` seconds can lend a bucket at most `d × rate` tokens.
"""

import math
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from models.budgets import RateBucket
from models.tables import BUCKET


@dataclass(frozen=True)
class Bucket:
    rate: float  # tokens a second, > 0
    burst: float


@dataclass(frozen=True)
class Taken:
    granted: int
    tokens: float  # what the bucket holds afterwards


def lease(session: Session, key: str, want: int, bucket: Bucket, now: float) -> Taken:
    """Take up to `want` whole tokens; as many as there are, maybe none."""
    tokens = _locked(session, key, bucket, now)
    granted = max(0, min(want, math.floor(tokens)))
    tokens -= granted
    _store(session, key, bucket, tokens, now)
    return Taken(granted, tokens)


def charge(
    session: Session, key: str, cost: float, bucket: Bucket, now: float, floor: float
) -> float:
    """Take `cost` tokens whatever the bucket holds, down to a debt of `floor`; what is left."""
    tokens = max(floor, _locked(session, key, bucket, now) - cost)
    _store(session, key, bucket, tokens, now)
    return tokens


def peek(session: Session, key: str, bucket: Bucket, now: float) -> float:
    """The tokens the bucket holds now, without taking any."""
    row = session.execute(
        sa.select(col(RateBucket.tokens), col(RateBucket.stamp)).where(col(RateBucket.key) == key)
    ).first()
    return bucket.burst if row is None else _refilled(row[0], row[1], bucket, now)


def prune(session: Session, now: float) -> None:
    """Forget the buckets that are full again: a missing row means just that. Rows another
    transaction holds are left for next time, so pruning never waits on (or deadlocks) one."""
    full = sa.select(col(RateBucket.key)).where(col(RateBucket.full_at) <= now)
    if session.get_bind().dialect.name == "postgresql":
        full = full.with_for_update(skip_locked=True)
    session.execute(sa.delete(RateBucket).where(col(RateBucket.key).in_(full)))


def _locked(session: Session, key: str, bucket: Bucket, now: float) -> float:
    """The bucket's tokens now, its row (made full if missing) locked until the commit."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    locking = (
        sa.select(col(RateBucket.tokens), col(RateBucket.stamp))
        .where(col(RateBucket.key) == key)
        .with_for_update()
    )
    for _ in range(3):  # a full row may be pruned between our insert and our lock: once, rarely
        row = session.execute(locking).first()
        if row is not None:
            return _refilled(row[0], row[1], bucket, now)
        full = {"key": key, "tokens": bucket.burst, "stamp": now, "full_at": now}
        session.execute(dialect.insert(BUCKET).values(full).on_conflict_do_nothing())
    raise RuntimeError(f"rate bucket {key!r} vanished three times in a row")


def _refilled(tokens: float, stamp: float, bucket: Bucket, now: float) -> float:
    return min(bucket.burst, tokens + max(0.0, now - stamp) * bucket.rate)


def _store(session: Session, key: str, bucket: Bucket, tokens: float, now: float) -> None:
    full_at = now + (bucket.burst - tokens) / bucket.rate
    session.execute(
        sa.update(RateBucket)
        .where(col(RateBucket.key) == key)
        .values(tokens=tokens, stamp=now, full_at=full_at)
    )
