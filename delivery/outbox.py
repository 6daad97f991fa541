"""The outbox side of webhooks: deliveries are claimed, fairly across subscriptions (events
become deliveries in `delivery/expansion.py`, turns and circuits are `delivery/pacing.py`).

Each function is one unit of work for the writer. On PostgreSQL several workers may run them
at once: claiming uses FOR UPDATE SKIP LOCKED and a lease, so no delivery is held by two.
"""

from collections import Counter
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, Exists, Row, and_, bindparam, exists, or_, true
from sqlalchemy import select as core_select
from sqlmodel import Session

from core.crypto import SecretBox
from delivery import pacing
from delivery.jobs import LEASE, RECORD_TYPES, Job
from delivery.matching import ERASURES
from models.tables import AGENCY, DELIVERY, EVENT, SUBSCRIPTION
from services.records.events import event_json

DUE_COLUMNS = [
    DELIVERY.c[name]
    for name in ("id", "subscription_id", "event_seq", "event_id", "event_type", "payload")
] + [DELIVERY.c.attempts]
SIGNING_COLUMNS = [
    SUBSCRIPTION.c[name]
    for name in ("id", "agency", "url", "secret", "previous_secret", "previous_secret_until")
]
RECIPIENT_COLUMNS = [*SIGNING_COLUMNS, AGENCY.c.country]  # its auditors see the disclosure
EVENT_COLUMNS = [
    EVENT.c[name] for name in ("seq", "id", "type", "at", "data", "record_id", "kind")
] + [EVENT.c.sender_country]
# The subscriptions whose turn it is: due, enabled, not already at their share in flight
# here. Locked (SKIP LOCKED) so that, with several workers, each serves different ones.
_TURNS = (
    core_select(*RECIPIENT_COLUMNS, SUBSCRIPTION.c.consecutive_failures)
    .join(AGENCY, AGENCY.c.code == SUBSCRIPTION.c.agency)
    .where(
        SUBSCRIPTION.c.enabled.is_(True),
        SUBSCRIPTION.c.due_at <= bindparam("now"),
        SUBSCRIPTION.c.id.not_in(bindparam("full", expanding=True)),
    )
    .order_by(SUBSCRIPTION.c.due_at)
    .limit(bindparam("turns"))
    .with_for_update(skip_locked=True)
)
_DUE = and_(
    DELIVERY.c.state == "pending",
    DELIVERY.c.next_attempt_at <= bindparam("now"),
    or_(DELIVERY.c.lease_until.is_(None), DELIVERY.c.lease_until <= bindparam("now")),
)
# The head of each chosen subscription's queue: its `head` oldest due deliveries, read
# through ix_delivery_queue. PostgreSQL joins each subscription LATERAL to its head (and
# locks it, SKIP LOCKED); SQLite runs the same per-subscription subquery correlated.
_HEAD = (
    core_select(*DUE_COLUMNS)
    .where(DELIVERY.c.subscription_id == SUBSCRIPTION.c.id, _DUE)
    .order_by(DELIVERY.c.next_attempt_at)
    .limit(bindparam("head"))
)
_CHOSEN = SUBSCRIPTION.c.id.in_(bindparam("ids", expanding=True))
_HEAD_ROWS = _HEAD.with_for_update(skip_locked=True, of=DELIVERY).lateral("head")
_HEADS_POSTGRES = (
    core_select(*_HEAD_ROWS.c).select_from(SUBSCRIPTION.join(_HEAD_ROWS, true())).where(_CHOSEN)
)
_HEAD_IDS = _HEAD.with_only_columns(DELIVERY.c.id).correlate(SUBSCRIPTION)
_HEADS_SQLITE = (
    core_select(*DUE_COLUMNS)
    .select_from(SUBSCRIPTION.join(DELIVERY, DELIVERY.c.id.in_(_HEAD_IDS.scalar_subquery())))
    .where(_CHOSEN)
)

# Statements every claim runs, built once (building them cost about as much as running them).
_LEASE = (
    DELIVERY.update()
    .where(DELIVERY.c.id.in_(bindparam("ids", expanding=True)))
    .values(lease_until=bindparam("until"), next_attempt_at=bindparam("until"))
)
_EVENTS = core_select(*EVENT_COLUMNS).where(EVENT.c.seq.in_(bindparam("seqs", expanding=True)))

# An erasure notice (`*.redacted`, `*.purged`) must not pass the copy it erases. A delivery of
# the record claimed before the change carries the text as it was; sent beside it, the notice
# could be done with first (nothing to change yet) and the copy kept as sent. So a notice
# waits while an earlier delivery of its record to the same subscription is open (leased), or
# is claimed beside it (both due at once after the change: the copy is already erased, but the
# order is then the receiver's to guess); one sent later reads the event as it now is.
NOTICES = tuple(f".{change}" for change in ERASURES)
NOTICE_WAIT = timedelta(seconds=1)  # looked at again this often: within a delivery timeout
_NOTICE_EVENT, _COPY_EVENT, _COPY = EVENT.alias("notice"), EVENT.alias("copy"), DELIVERY.alias()


def _copy_of_the_record(*where: ColumnElement[bool]) -> Exists:
    """An earlier delivery of the notice's record to its subscription, such that `where`."""
    return (
        exists()
        .select_from(_COPY.join(_COPY_EVENT, _COPY_EVENT.c.seq == _COPY.c.event_seq))
        .where(
            *where,
            _COPY.c.subscription_id == DELIVERY.c.subscription_id,
            _COPY.c.event_seq < DELIVERY.c.event_seq,
            _COPY_EVENT.c.record_id == _NOTICE_EVENT.c.record_id,
        )
    )


# Open ones are read from the subscription's leased deliveries (pending, due when the lease
# ends: a range of ix_delivery_queue), not from the record's events, which a record sighted
# often has by the thousand; those claimed beside it by their ids.
_BEHIND_A_COPY = (
    core_select(DELIVERY.c.id)
    .join(_NOTICE_EVENT, _NOTICE_EVENT.c.seq == DELIVERY.c.event_seq)
    .where(
        DELIVERY.c.id.in_(bindparam("ids", expanding=True)),
        or_(
            _copy_of_the_record(
                _COPY.c.state == "pending",
                _COPY.c.next_attempt_at > bindparam("now"),
                _COPY.c.lease_until > bindparam("now"),
            ),
            _copy_of_the_record(_COPY.c.id.in_(bindparam("claimed", expanding=True))),
        ),
    )
)
_NOT_YET = (
    DELIVERY.update()
    .where(DELIVERY.c.id.in_(bindparam("ids", expanding=True)))
    .values(next_attempt_at=bindparam("at"))
)


def claim(
    session: Session,
    box: SecretBox,
    now: datetime,
    limit: int,
    per_subscription: int = 4,
    busy: dict[str, int] | None = None,
    lease: timedelta = LEASE,
) -> list[Job]:
    """Lease due deliveries to this worker, fairly: the subscriptions that have waited
    longest for their turn (delivery/pacing.py), each up to `per_subscription` in flight
    here (one, as a probe, while its circuit is open), at most `limit` in all.

    Each subscription's queue is read at its head only, so one partner's backlog, however
    large, costs the claim nothing and hides nobody else's work. Plain Core rows, not ORM
    objects: each subscription's secrets are opened and each event rendered once a claim."""
    busy = busy or {}
    connection = session.connection()
    full = [sub_id for sub_id, n in busy.items() if n >= per_subscription]
    subs: list[Row[Any]] = list(
        connection.execute(_TURNS, {"now": now, "full": full, "turns": limit})
    )
    allowance = {
        sub.id: (1 if pacing.is_open(sub.consecutive_failures) else per_subscription)
        - busy.get(sub.id, 0)
        for sub in subs
    }
    wanted = [sub_id for sub_id, room in allowance.items() if room > 0]
    heads: dict[str, list[Row[Any]]] = {sub_id: [] for sub_id in wanted}
    # no deeper into each queue than the claim can deal out, and one more to know if it has
    head = max(1, min(per_subscription, -(-limit // max(len(wanted), 1))))
    if wanted:
        statement = _HEADS_POSTGRES if connection.dialect.name == "postgresql" else _HEADS_SQLITE
        params = {"ids": wanted, "now": now, "head": head + 1}
        for row in connection.execute(statement, params):
            heads[row.subscription_id].append(row)
    allowance = {sub_id: min(room, head) for sub_id, room in allowance.items()}
    chosen = _take_turns(heads, allowance, limit)
    waiting = _behind_a_copy(connection, chosen, now)
    if waiting:
        chosen = [delivery for delivery in chosen if delivery.id not in waiting]
        heads = {s: [d for d in rows if d.id not in waiting] for s, rows in heads.items()}
    until = now + lease
    if chosen:
        ids = [delivery.id for delivery in chosen]
        connection.execute(_LEASE, {"ids": ids, "until": until})
    dealt = Counter(delivery.subscription_id for delivery in chosen)
    taken = set(dealt)
    probing, more, drained = [], [], []
    for sub in subs:
        if pacing.is_open(sub.consecutive_failures) and (sub.id in taken or allowance[sub.id] <= 0):
            probing.append(sub.id)  # nobody else looks until the probe is settled
        elif len(heads.get(sub.id, ())) > dealt[sub.id]:  # due work left
            if sub.id in taken:
                more.append(sub.id)  # served: to the back of the line
            # else the claim ran out of room first: it keeps its place
        else:
            drained.append(sub.id)
    pacing.served(connection, now, more=more, probing=probing, drained=drained, lease=lease)
    secrets = {sub.id: (sub, tuple(_secrets(box, sub, now))) for sub in subs if sub.id in taken}
    return _jobs(connection, chosen, secrets, until)


def _behind_a_copy(connection: Connection, chosen: list[Row[Any]], now: datetime) -> set[str]:
    """The erasure notices among `chosen` that must wait for an open copy (see NOTICES); put
    off by NOTICE_WAIT. Asked only when a claim holds a notice, which is rare."""
    notices = [delivery.id for delivery in chosen if delivery.event_type.endswith(NOTICES)]
    if not notices:
        return set()
    params = {"ids": notices, "now": now, "claimed": [delivery.id for delivery in chosen]}
    waiting = set(connection.execute(_BEHIND_A_COPY, params).scalars())
    if waiting:
        connection.execute(_NOT_YET, {"ids": list(waiting), "at": now + NOTICE_WAIT})
    return waiting


def _take_turns(
    heads: dict[str, list[Row[Any]]], allowance: dict[str, int], limit: int
) -> list[Row[Any]]:
    """Deal deliveries out a round at a time, one per subscription, oldest turn first, so a
    claim that runs out of room has still served as many subscriptions as it could."""
    chosen: list[Row[Any]] = []
    depth = 0
    while len(chosen) < limit:
        dealt = False
        for sub_id, rows in heads.items():
            if depth < min(len(rows), allowance[sub_id]) and len(chosen) < limit:
                chosen.append(rows[depth])
                dealt = True
        if not dealt:
            return chosen
        depth += 1
    return chosen


def _jobs(
    connection: Connection,
    chosen: list[Row[Any]],
    subs: dict[str, tuple[Row[Any], tuple[str, ...]]],
    until: datetime,
) -> list[Job]:
    seqs = {delivery.event_seq for delivery in chosen if delivery.event_seq is not None}
    bodies = {
        event.seq: (
            event_json(event.seq, event.id, event.type, event.at, event.data),
            event.record_id,
            RECORD_TYPES.get(event.kind),
            event.sender_country,
        )
        for event in (connection.execute(_EVENTS, {"seqs": list(seqs)}) if seqs else ())
    }
    jobs: list[Job] = []
    for delivery in chosen:
        sub, secrets = subs[delivery.subscription_id]
        body, record_id, record_type, country = delivery.payload, None, None, None
        if delivery.event_seq is not None:
            body, record_id, record_type, country = bodies[delivery.event_seq]
        jobs.append(
            Job(
                delivery.id,
                sub.id,
                sub.agency,
                sub.url,
                secrets,
                delivery.event_id,
                delivery.event_type,
                body or "{}",
                delivery.attempts + 1,
                record_id,
                record_type,
                country if record_type in ("alerts", "distress-reports") else None,
                agency_country=sub.country,
                lease_until=until,
            )
        )
    return jobs


def _secrets(box: SecretBox, sub: Row[Any], now: datetime) -> list[str]:
    """The current secret, and during a rotation the previous one too."""
    keys = [_opened(box, sub.secret)]
    if sub.previous_secret and sub.previous_secret_until and sub.previous_secret_until > now:
        keys.append(_opened(box, sub.previous_secret))
    return keys


@lru_cache(maxsize=4096)
def _opened(box: SecretBox, sealed: str) -> str:
    """A sealed secret opened once, not at every claim: opening cost ~40 us, and a claim
    serves up to 64 subscriptions (a third of a claim's time). Keyed by the sealed text,
    so a rotated secret is a new entry."""
    return box.open(sealed)
