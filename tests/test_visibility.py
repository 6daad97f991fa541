"""One policy: `can_read` and its SQL twin agree, and every read path obeys them."""

import itertools
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from auth.policy import ADDRESSED, can_read, code_list, readable
from auth.principal import Principal
from auth.scopes import ROLE_SCOPES
from core.db import Database
from models.enums import AgencyType, Role
from models.events import Event
from models.records import Record
from services.records.events import EVENT_COLUMNS
from tests.support import AGENCIES, Network, alert_body, distress_body, seed_registry

AGENCY_CODES = [code for code, _country, _type in AGENCIES]
COUNTRIES = ["TH", "MY", "BD", "ID"]

principals = st.builds(
    Principal,
    client_id=st.just("c"),
    agency=st.sampled_from([*AGENCY_CODES, "ZZ-OTHER"]),
    country=st.sampled_from(COUNTRIES),
    agency_type=st.sampled_from(list(AgencyType)),
    roles=st.just(frozenset()),
    scopes=st.sampled_from(list(ROLE_SCOPES.values())),
    jti=st.just("j"),
    expires_at=st.just(datetime(2030, 1, 1, tzinfo=UTC)),
)
records = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["alert", "distress"]),
        "status": st.sampled_from(["actual", "exercise", "test"]),
        "sender": st.sampled_from(AGENCIES),
        # `addressed`: what an overdue-acknowledgement event is stored with (no sender sends it)
        "distribution": st.sampled_from(["agency", "national", "countries", "network", ADDRESSED]),
        "tlp": st.sampled_from(["clear", "green", "amber", "amber+strict", "red"]),
        "recipient_countries": st.lists(st.sampled_from(COUNTRIES), unique=True, max_size=3),
        "recipient_agencies": st.lists(st.sampled_from(AGENCY_CODES), unique=True, max_size=3),
    }
)


def _row(spec: dict[str, Any]) -> Record:
    code, country, _type = spec["sender"]
    now = datetime.now(UTC)
    return Record(
        id=str(uuid.uuid4()),
        kind=spec["kind"],
        version=1,
        sender_agency=code,
        sender_country=country,
        status=spec["status"],
        state="active",
        distribution=spec["distribution"],
        tlp=spec["tlp"],
        recipient_countries=code_list(sorted(spec["recipient_countries"])),
        recipient_agencies=code_list(sorted(spec["recipient_agencies"])),
        ack_required=False,
        severity_rank=0,
        lat=0.0,
        lon=0.0,
        created_at=now,
        updated_at=now,
        search_text="",
        doc="{}",
    )


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(principal=principals, spec=records)
def test_can_read_and_its_sql_twin_agree(
    registry_db: Database, principal: Principal, spec: dict[str, Any]
) -> None:
    row = _row(spec)
    record_id = row.id

    def check(session: Session) -> bool:
        session.add(row)
        session.flush()
        query = select(Record.id).where(col(Record.id) == record_id, readable(principal))
        return session.exec(query).first() is not None

    in_sql = registry_db.run_write(check)
    assert in_sql == can_read(principal, row), (principal, spec)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    principal=principals,
    spec=records,
    kind=st.sampled_from(["alert", "distress", "subscription", "registry"]),
)
def test_can_read_and_its_sql_twin_agree_on_events(
    registry_db: Database, principal: Principal, spec: dict[str, Any], kind: str
) -> None:
    """Events too, of every kind: the news about webhooks and the registry included."""
    record = _row(spec)
    event = Event(
        id=str(uuid.uuid4()),
        type=f"{kind}.created",
        at=record.created_at,
        record_id=record.id,
        data="{}",
        kind=kind,
        **{name: getattr(record, name) for name in EVENT_COLUMNS if name != "kind"},
    )

    def check(session: Session) -> bool:
        session.add(event)
        session.flush()
        query = select(Event.seq).where(col(Event.id) == event.id, readable(principal, Event))
        return session.exec(query).first() is not None

    assert registry_db.run_write(check) == can_read(principal, event), (principal, spec, kind)


@pytest.fixture
def registry_db(db: Database) -> Database:
    seed_registry(db)
    return db


DISTRIBUTIONS = ["agency", "national", "countries", "network"]
TLPS = ["clear", "green", "amber", "amber+strict", "red"]


async def test_every_read_path_agrees_with_the_policy(network: Network) -> None:
    """Reader agency × distribution × TLP × named recipient, for both kinds."""
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    posted: list[dict[str, Any]] = []
    for kind, distribution, tlp, named in itertools.product(
        ["alerts", "distress-reports"], DISTRIBUTIONS, TLPS, [[], ["TH-MECC"]]
    ):
        body_of = alert_body if kind == "alerts" else distress_body
        handling = {
            "distribution": distribution,
            "tlp": tlp,
            "recipient_agencies": named,
            "recipient_countries": ["MY"] if distribution == "countries" else [],
            "ack_required": True,
        }
        response = await network.http.post(
            f"/v1/{kind}", json=body_of(handling=handling), headers=sender
        )
        assert response.status_code == 201, response.text
        posted.append({**response.json(), "path": kind})
    rows = {
        row.id: row for row in network.db.run_read(lambda s: list(s.exec(select(Record)).all()))
    }
    for code, _country, _type in AGENCIES:
        reader = network.role(Role.VIEWER, code)
        headers = await network.headers(Role.VIEWER, code)
        me = (await network.http.get("/v1/auth/me", headers=headers)).json()
        principal = Principal(
            client_id=reader.client_id,
            agency=code,
            country=me["country"],
            agency_type=AgencyType(me["agency"]["type"]),
            roles=frozenset([Role.VIEWER]),
            scopes=ROLE_SCOPES[Role.VIEWER],
            jti="x",
            expires_at=datetime.now(UTC),
        )
        for kind in ("alerts", "distress-reports"):
            listed = await network.http.get(f"/v1/{kind}?limit=200", headers=headers)
            geo = await network.http.get(f"/v1/geo/{kind}?limit=200", headers=headers)
            listed_ids = {doc["id"] for doc in listed.json()["items"]}
            geo_ids = {feature["id"] for feature in geo.json()["features"]}
            expected = {
                doc["id"]
                for doc in posted
                if doc["path"] == kind and can_read(principal, rows[doc["id"]])
            }
            assert listed_ids == expected, (code, kind)
            assert geo_ids == expected, (code, kind)
        for doc in posted:
            visible = can_read(principal, rows[doc["id"]])
            base = f"/v1/{doc['path']}/{doc['id']}"
            paths = [base, f"{base}/versions", f"{base}/acks"]
            if doc["path"] == "alerts":
                paths.append(f"{base}/cap")
            for path in paths:
                response = await network.http.get(path, headers=headers)
                assert response.status_code == (200 if visible else 404), (
                    code,
                    path,
                    doc["handling"],
                )


async def test_safety_of_life_floor(network: Network) -> None:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    private = {"distribution": "agency", "tlp": "red"}
    actual = await network.http.post(
        "/v1/distress-reports", json=distress_body(handling=private), headers=sender
    )
    drill = await network.http.post(
        "/v1/distress-reports",
        # no coordinating RCC: one it names must be able to read the report, and no MRCC can
        json=distress_body(handling=private, status="exercise", coordinating_rcc=None),
        headers=sender,
    )
    alert = await network.http.post("/v1/alerts", json=alert_body(handling=private), headers=sender)
    for code, visible in (("MY-MRCC", True), ("ID-BASARNAS", True), ("MY-MMEA", False)):
        headers = await network.headers(Role.VIEWER, code)
        got = await network.http.get(f"/v1/distress-reports/{actual.json()['id']}", headers=headers)
        assert got.status_code == (200 if visible else 404), code
        exercise = await network.http.get(
            f"/v1/distress-reports/{drill.json()['id']}", headers=headers
        )
        assert exercise.status_code == 404, code
        other = await network.http.get(f"/v1/alerts/{alert.json()['id']}", headers=headers)
        assert other.status_code == 404, code


@pytest.mark.parametrize(
    ("handling", "readers"),
    [
        ({"distribution": "agency", "tlp": "amber"}, {"BD-CG"}),
        ({"distribution": "national", "tlp": "amber"}, {"BD-CG"}),
        (
            {"distribution": "countries", "tlp": "amber", "recipient_countries": ["MY"]},
            {"BD-CG", "MY-MMEA", "MY-MRCC"},
        ),
        ({"distribution": "network", "tlp": "green"}, set(AGENCY_CODES)),
        (
            {"distribution": "network", "tlp": "red", "recipient_agencies": ["TH-MECC"]},
            {"BD-CG", "TH-MECC"},
        ),
        (
            {"distribution": "agency", "tlp": "amber", "recipient_agencies": ["ID-BASARNAS"]},
            {"BD-CG", "ID-BASARNAS"},
        ),
    ],
)
async def test_distribution_rules_by_example(
    network: Network, handling: dict[str, Any], readers: set[str]
) -> None:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    doc = (
        await network.http.post("/v1/alerts", json=alert_body(handling=handling), headers=sender)
    ).json()
    seen = set()
    for code in AGENCY_CODES:
        headers = await network.headers(Role.VIEWER, code)
        if (await network.http.get(f"/v1/alerts/{doc['id']}", headers=headers)).status_code == 200:
            seen.add(code)
    assert seen == readers


@st.composite
def handlings(draw: st.DrawFn) -> dict[str, Any]:
    """A valid `handling`: recipient countries go with (and only with) `countries`."""
    distribution = draw(st.sampled_from(DISTRIBUTIONS))
    countries = st.lists(st.sampled_from(COUNTRIES), unique=True, min_size=1, max_size=2)
    return {
        "distribution": distribution,
        "tlp": draw(st.sampled_from(TLPS)),
        "recipient_countries": draw(countries) if distribution == "countries" else [],
        "recipient_agencies": draw(
            st.lists(st.sampled_from(AGENCY_CODES), unique=True, max_size=2)
        ),
        "ack_required": False,
    }


histories = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["alerts", "distress-reports"]),
        "status": st.sampled_from(["actual", "exercise"]),
        "sender": st.sampled_from(AGENCIES),
        "handlings": st.lists(handlings(), min_size=2, max_size=4),
    }
)


def _reader(code: str, country: str, agency_type: AgencyType) -> Principal:
    return Principal(
        client_id="c",
        agency=code,
        country=country,
        agency_type=agency_type,
        roles=frozenset([Role.VIEWER]),
        scopes=ROLE_SCOPES[Role.VIEWER],
        jti="x",
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=histories)
async def test_every_reader_lists_exactly_the_versions_the_policy_allows(
    network: Network, history: dict[str, Any]
) -> None:
    """A record whose handling changes at random: each reader's `/versions` holds exactly the
    versions `can_read` allows by that version's own handling (404 when the last is hidden)."""
    kind = history["kind"]
    sender = await network.headers(Role.DUTY_OFFICER, history["sender"][0])
    body_of = alert_body if kind == "alerts" else distress_body
    first, *changes = history["handlings"]
    # no coordinating RCC: a named one must be able to read every version (exercises: no floor)
    body = body_of(handling=first, status=history["status"])
    if kind == "distress-reports":
        body["coordinating_rcc"] = None
    response = await network.http.post(f"/v1/{kind}", json=body, headers=sender)
    assert response.status_code == 201, response.text
    record_id = response.json()["id"]
    for handling in changes:
        response = await network.http.patch(
            f"/v1/{kind}/{record_id}", json={"handling": handling}, headers=sender
        )
        assert response.status_code == 200, response.text
    as_sent = [
        _row(
            {
                "kind": "alert" if kind == "alerts" else "distress",
                "status": history["status"],
                "sender": history["sender"],
                **handling,
            }
        )
        for handling in history["handlings"]
    ]
    for code, country, agency_type in AGENCIES:
        principal = _reader(code, country, agency_type)
        allowed = [n for n, row in enumerate(as_sent, 1) if can_read(principal, row)]
        headers = await network.headers(Role.VIEWER, code)
        listed = await network.http.get(f"/v1/{kind}/{record_id}/versions", headers=headers)
        if not can_read(principal, as_sent[-1]):
            assert listed.status_code == 404, (code, history)
            continue
        assert listed.status_code == 200, listed.text
        versions = [item["version"] for item in listed.json()["items"]]
        assert versions == allowed, (code, history)
        if kind == "alerts":
            cap = await network.http.get(f"/v1/alerts/{record_id}/cap", headers=headers)
            referenced = [int(n) for n in re.findall(rf"{record_id}:v(\d+),", cap.text)]
            assert referenced == allowed[:-1], (code, history)


def test_an_addressed_distress_event_gets_no_safety_of_life_floor() -> None:
    """Every MRCC reads an actual distress report, but not an event addressed to others."""
    spec = {
        "kind": "distress",
        "status": "actual",
        "sender": AGENCIES[0],
        "distribution": ADDRESSED,
        "tlp": "amber",
        "recipient_countries": [],
        "recipient_agencies": ["MY-MMEA"],
    }
    row = _row(spec)
    scopes = ROLE_SCOPES[Role.VIEWER]
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    for agency, country, agency_type, sees in (
        ("MY-MRCC", "MY", AgencyType.MRCC, False),
        ("MY-MMEA", "MY", AgencyType.COAST_GUARD, True),
        (row.sender_agency, row.sender_country, AgencyType.COAST_GUARD, True),
    ):
        principal = Principal("c", agency, country, agency_type, frozenset(), scopes, "j", expires)
        assert can_read(principal, row) is sees, agency
    assert can_read(
        Principal("c", "MY-MRCC", "MY", AgencyType.MRCC, frozenset(), scopes, "j", expires),
        _row({**spec, "distribution": "agency"}),
    )  # the same report, sent: the floor holds
