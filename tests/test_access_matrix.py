"""Who may do what to whose objects: one table, every route, every role, three owners.

Each row: method, route template, whose object the route is called on (the caller's own
agency, another agency of its country, an agency of another country, or `-` when the route
names none), and the status each caller gets. A route the app serves without a row here fails
`test_every_route_has_rows`, so a new endpoint cannot ship without deciding who may call it.
"""

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from core.clock import utcnow
from models.enums import AgencyType, Role
from tests.conftest import make_settings
from tests.support import Network, alert_body, distress_body
from tests.test_scopes_matrix import EXPECTED_SCOPES

CALLERS: list[Role | None] = [
    Role.VIEWER,
    Role.DUTY_OFFICER,
    Role.AGENCY_ADMIN,
    Role.AUDITOR,
    Role.PLATFORM_ADMIN,
    None,  # no token at all
]
OWNERS = ("own", "same", "other", "-")  # same: same country, other agency; other: other country

TABLE = """
# method path                                            owner  view duty admin audit platf none
POST   /v1/auth/token                                     -      200  200  200  200  200  401
POST   /v1/auth/revoke                                    own    403  403  200  403  200  401
POST   /v1/auth/revoke                                    same   403  403  403  403  200  401
POST   /v1/auth/revoke                                    other  403  403  403  403  200  401
GET    /v1/auth/me                                        -      200  200  200  200  200  401
GET    /v1/countries                                      -      200  200  200  200  200  401
POST   /v1/countries                                      -      403  403  403  403  201  401
GET    /v1/agencies                                       -      200  200  200  200  200  401
POST   /v1/agencies                                       -      403  403  403  403  201  401
GET    /v1/agencies/{code}                                own    200  200  200  200  200  401
GET    /v1/agencies/{code}                                same   200  200  200  200  200  401
GET    /v1/agencies/{code}                                other  200  200  200  200  200  401
GET    /v1/agencies/{code}/clients                        own    403  403  200  403  200  401
GET    /v1/agencies/{code}/clients                        same   403  403  403  403  200  401
GET    /v1/agencies/{code}/clients                        other  403  403  403  403  200  401
POST   /v1/agencies/{code}/clients                        own    403  403  201  403  201  401
POST   /v1/agencies/{code}/clients                        same   403  403  403  403  201  401
POST   /v1/agencies/{code}/clients                        other  403  403  403  403  201  401
DELETE /v1/clients/{client_id}                            own    403  403  200  403  200  401
DELETE /v1/clients/{client_id}                            same   403  403  404  403  200  401
DELETE /v1/clients/{client_id}                            other  403  403  404  403  200  401
GET    /v1/feed                                           -      200  200  200  403  403  401
POST   /v1/subscriptions                                  -      403  403  201  403  403  401
GET    /v1/subscriptions                                  -      403  403  200  403  403  401
GET    /v1/audit-events                                   -      403  403  403  200  200  401
GET    /v1/audit-events/verify                            -      403  403  403  200  200  401
"""
# Records: the other agency of the caller's country sent them `national`, so the caller reads
# them but may not change them; the other country's `national` records do not exist for it.
# Each record began as a red agency-only version 1 (see `World`): only its sender ever sees it.
RECORD_TABLE = """
POST   /v1/{kind}                                         -      403  201  201  403  403  401
GET    /v1/{kind}                                         -      200  200  200  403  403  401
GET    /v1/geo/{kind}                                     -      200  200  200  403  403  401
GET    /v1/{kind}/{record_id}                             own    200  200  200  403  403  401
GET    /v1/{kind}/{record_id}                             same   200  200  200  403  403  401
GET    /v1/{kind}/{record_id}                             other  404  404  404  403  403  401
PATCH  /v1/{kind}/{record_id}                             own    403  200  200  403  403  401
PATCH  /v1/{kind}/{record_id}                             same   403  403  403  403  403  401
PATCH  /v1/{kind}/{record_id}                             other  403  404  404  403  403  401
GET    /v1/{kind}/{record_id}/versions                    own    200  200  200  403  403  401
GET    /v1/{kind}/{record_id}/versions                    same   200  200  200  403  403  401
GET    /v1/{kind}/{record_id}/versions                    other  404  404  404  403  403  401
POST   /v1/{kind}/{record_id}/acks                        own    403  409  409  403  403  401
POST   /v1/{kind}/{record_id}/acks                        same   403  201  201  403  403  401
POST   /v1/{kind}/{record_id}/acks                        other  403  404  404  403  403  401
GET    /v1/{kind}/{record_id}/acks                        own    200  200  200  403  403  401
GET    /v1/{kind}/{record_id}/acks                        same   200  200  200  403  403  401
GET    /v1/{kind}/{record_id}/acks                        other  404  404  404  403  403  401
POST   /v1/{kind}/{record_id}/sightings                   own    403  201  201  403  403  401
POST   /v1/{kind}/{record_id}/sightings                   same   403  201  201  403  403  401
POST   /v1/{kind}/{record_id}/sightings                   other  403  404  404  403  403  401
GET    /v1/{kind}/{record_id}/sightings                   own    200  200  200  403  403  401
GET    /v1/{kind}/{record_id}/sightings                   same   200  200  200  403  403  401
GET    /v1/{kind}/{record_id}/sightings                   other  404  404  404  403  403  401
POST   /v1/{kind}/{record_id}/versions/{number}/redact    own    403  200  200  403  403  401
POST   /v1/{kind}/{record_id}/versions/{number}/redact    same   403  403  403  403  403  401
POST   /v1/{kind}/{record_id}/versions/{number}/redact    other  403  404  404  403  403  401
POST   /v1/{kind}/{record_id}/legal-hold                  own    403  403  200  403  403  401
POST   /v1/{kind}/{record_id}/legal-hold                  same   403  403  403  403  403  401
POST   /v1/{kind}/{record_id}/legal-hold                  other  403  404  404  403  403  401
POST   /v1/{kind}/{record_id}/{finish}                    own    403  200  200  403  403  401
POST   /v1/{kind}/{record_id}/{finish}                    same   403  403  403  403  403  401
POST   /v1/{kind}/{record_id}/{finish}                    other  403  404  404  403  403  401
"""
# Handing coordination over: like closing, by the sender (or the coordinating RCC, whom
# tests/test_coordination.py covers) with the write scope.
COORDINATION_TABLE = """
POST   /v1/distress-reports/{record_id}/coordination      own    403  200  200  403  403  401
POST   /v1/distress-reports/{record_id}/coordination      same   403  403  403  403  403  401
POST   /v1/distress-reports/{record_id}/coordination      other  403  404  404  403  403  401
"""
CAP_TABLE = """
GET    /v1/alerts/{record_id}/cap                         own    200  200  200  403  403  401
GET    /v1/alerts/{record_id}/cap                         same   200  200  200  403  403  401
GET    /v1/alerts/{record_id}/cap                         other  404  404  404  403  403  401
"""
# A case or a vessel "belongs" to the agency whose record (red v1, then national) names it.
CASE_TABLE = """
GET    /v1/cases                                          -      200  200  200  403  403  401
GET    /v1/cases/{case_id}                                own    200  200  200  403  403  401
GET    /v1/cases/{case_id}                                same   200  200  200  403  403  401
GET    /v1/cases/{case_id}                                other  404  404  404  403  403  401
GET    /v1/vessels/{key}                                  own    200  200  200  403  403  401
GET    /v1/vessels/{key}                                  same   200  200  200  403  403  401
GET    /v1/vessels/{key}                                  other  404  404  404  403  403  401
"""
# Subscriptions and deliveries belong to one agency: anyone else's is a 404.
SUBSCRIPTION_ROUTES = [
    ("GET", "/v1/subscriptions/{subscription_id}", 200),
    ("PATCH", "/v1/subscriptions/{subscription_id}", 200),
    ("DELETE", "/v1/subscriptions/{subscription_id}", 200),
    ("POST", "/v1/subscriptions/{subscription_id}/rotate-secret", 200),
    ("POST", "/v1/subscriptions/{subscription_id}/ping", 202),
    ("POST", "/v1/subscriptions/{subscription_id}/enable", 200),
    ("POST", "/v1/subscriptions/{subscription_id}/replay", 202),
    ("GET", "/v1/subscriptions/{subscription_id}/replay", 200),  # after the POST above
    ("GET", "/v1/subscriptions/{subscription_id}/deliveries", 200),
    ("POST", "/v1/deliveries/{delivery_id}/redeliver", 200),
]
SUBSCRIPTION_TABLE = "".join(
    f"{method} {path} {owner} 403 403 {ok if owner == 'own' else 404} 403 403 401\n"
    for method, path, ok in SUBSCRIPTION_ROUTES
    for owner in ("own", "same", "other")
)
# Served without a token, outside /v1 (not audited): probes, documentation, the console.
PUBLIC_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/console"),
    ("MOUNT", "/static/docs"),
    ("MOUNT", "/static/console"),
}


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    owner: str
    caller: Role | None
    status: int


def _parse(text: str, **fill: str) -> list[Row]:
    rows = []
    for line in text.strip().splitlines():
        if line.startswith("#"):
            continue
        method, path, owner, *statuses = line.split()
        assert owner in OWNERS, line
        assert len(statuses) == len(CALLERS), line
        path = path.replace("{kind}", fill.get("kind", "{kind}"))
        path = path.replace("{finish}", fill.get("finish", "{finish}"))
        rows += [
            Row(method, path, owner, caller, int(status))
            for caller, status in zip(CALLERS, statuses, strict=True)
        ]
    return rows


ROWS: list[Row] = [
    *_parse(TABLE),
    *_parse(RECORD_TABLE, kind="alerts", finish="cancel"),
    *_parse(RECORD_TABLE, kind="distress-reports", finish="close"),
    *_parse(COORDINATION_TABLE),
    *_parse(CAP_TABLE),
    *_parse(CASE_TABLE),
    *_parse(SUBSCRIPTION_TABLE),
]


def _operations(routes: list[Any]) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, included routers flattened."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            found |= _operations(list(contexts()))
        elif getattr(route, "methods", None):
            path = re.sub(r":\w+}", "}", route.path)  # `{case_id:path}` is `{case_id}`
            found |= {(method, path) for method in route.methods if method != "HEAD"}
        else:
            found.add(("MOUNT", route.path))
    return found


def test_every_route_has_rows(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path}/unused.db", tmp_path))
    served = _operations(list(app.routes))
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert documented <= served
    api = {(method, path) for method, path in served if path.startswith("/v1/")}
    assert api == {(row.method, row.path) for row in ROWS}
    assert served - api == PUBLIC_ROUTES
    for method, path in api:
        rows = [row for row in ROWS if (row.method, row.path) == (method, path)]
        named = "{" in path.removeprefix("/v1/auth/revoke")
        owners = {row.owner for row in rows}
        assert owners == ({"own", "same", "other"} if named or "revoke" in path else {"-"})
        assert {row.caller for row in rows if row.owner == next(iter(owners))} == set(CALLERS)
        assert len(rows) == len(owners) * len(CALLERS), (method, path)


# ---------------------------------------------------------------------------------------------


CALLER_AGENCY = {"TH-MECC": "TH-MECC", "RSO": "RSO"}
SAME_COUNTRY = {"TH-MECC": "TH-POL", "RSO": "TH-MECC"}  # RSO sits in Bangkok
OTHER_COUNTRY = "MY-MMEA"
NATIONAL = {"distribution": "national", "tlp": "amber"}
AGENCY_RED = {"distribution": "agency", "tlp": "red"}
HIDDEN = "hidden first version: informant named"  # text of every record's red version 1
TEXT = {"alerts": "description", "distress-reports": "actions_taken"}
SINGLE_USE = ("/cancel", "/close", "DELETE", "/v1/auth/revoke")


@dataclass
class World:
    """Objects of each owner agency, made by that agency through the API when first named."""

    network: Network
    caller_agency: str
    made: dict[tuple[str, str], str] = field(default_factory=dict)
    serial: int = 0

    def owner_agency(self, owner: str) -> str:
        return {
            "own": self.caller_agency,
            "same": SAME_COUNTRY[self.caller_agency],
            "other": OTHER_COUNTRY,
            "-": self.caller_agency,
        }[owner]

    async def object(self, kind: str, owner: str, fresh: bool) -> str:
        agency = self.owner_agency(owner)
        if fresh:  # used up by the request (cancelled, deleted, revoked): never shared
            return await self._make(kind, agency)
        if (kind, agency) not in self.made:
            self.made[kind, agency] = await self._make(kind, agency)
        return self.made[kind, agency]

    async def _make(self, kind: str, agency: str) -> str:
        http, network = self.network.http, self.network
        self.serial += 1
        asked = kind
        if kind == "code":
            return agency
        if kind == "number":  # the version every reader of the record reads (national)
            return "2"
        if kind == "client_id":
            return network.add_client(f"victim-{self.serial}", agency, Role.VIEWER).client_id
        if kind == "token":
            return await network.token(network.add_client(f"rv-{self.serial}", agency, Role.VIEWER))
        if kind in ("alerts", "distress-reports", "case_id", "key"):
            case, mmsi = f"CASE-{agency}-{self.serial}", f"{self.serial:09d}"
            if kind in ("case_id", "key"):  # an alert in a case, naming a vessel
                kind = "alerts"
                body = alert_body(handling=AGENCY_RED, case_id=case, vessels=[{"mmsi": mmsi}])
            else:
                body = (alert_body if kind == "alerts" else distress_body)(handling=AGENCY_RED)
            duty = await network.headers(Role.DUTY_OFFICER, agency)
            response = await http.post(
                f"/v1/{kind}", json={**body, TEXT[kind]: HIDDEN}, headers=duty
            )
            assert response.status_code == 201, response.text
            widened = {"handling": NATIONAL, TEXT[kind]: "Redacted."}  # the natural downgrade
            record = f"/v1/{kind}/{response.json()['id']}"
            assert (await http.patch(record, json=widened, headers=duty)).status_code == 200
            if asked in ("case_id", "key"):
                return case if asked == "case_id" else f"mmsi:{mmsi}"
        else:
            admin = await network.headers(Role.AGENCY_ADMIN, agency)
            if kind == "delivery_id":
                subscription = await self.object("subscription_id", self._owner_of(agency), False)
                url = f"/v1/subscriptions/{subscription}/ping"
                response = await http.post(url, headers=admin)
                assert response.status_code == 202, response.text
                return str(response.json()["delivery_id"])
            hook = {"url": f"http://127.0.0.1:9/{agency}/{self.serial}", "event_types": ["*"]}
            response = await http.post("/v1/subscriptions", json=hook, headers=admin)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def _owner_of(self, agency: str) -> str:
        return next(o for o in ("own", "same", "other") if self.owner_agency(o) == agency)

    async def request(self, row: Row) -> tuple[str, dict[str, Any]]:
        """The concrete path and request arguments for a row."""
        fresh = any(marker in f"{row.method} {row.path}" for marker in SINGLE_USE)
        path = row.path
        for name in re.findall(r"{(\w+)}", path):
            kind = path.split("/")[2] if name == "record_id" else name
            path = path.replace(f"{{{name}}}", await self.object(kind, row.owner, fresh))
        return path, await self._body(row, fresh)

    async def _body(self, row: Row, fresh: bool) -> dict[str, Any]:
        if row.method in ("GET", "DELETE"):
            return {}
        if row.path == "/v1/auth/token":
            if row.caller is None:
                return {"data": {"grant_type": "client_credentials"}}
            credential = self.network.role(row.caller, self.caller_agency)
            form = {"client_id": credential.client_id, "client_secret": credential.secret}
            return {"data": {"grant_type": "client_credentials", **form}}
        if row.path == "/v1/auth/revoke":
            return {"data": {"token": await self.object("token", row.owner, fresh)}}
        return {"json": _json_body(row.method, row.path)}


def _json_body(method: str, path: str) -> dict[str, Any] | None:
    tail = path.rsplit("/", 1)[-1]
    kind = path.split("/")[2]
    if method == "PATCH":
        return {
            "alerts": {"headline": "Changed"},
            "distress-reports": {"actions_taken": "Changed"},
            "subscriptions": {"description": "Changed"},
        }[kind]
    by_path: dict[str, Any] = {
        "countries": {"code": "QQ", "name": "Test"},
        "agencies": {"code": "TH-NEW", "name": "New", "country": "TH", "type": "police"},
        "clients": {"name": "new", "roles": ["viewer"]},
        "alerts": alert_body(),
        "distress-reports": distress_body(),
        "acks": {},
        "sightings": {
            "observed_at": utcnow().isoformat(),
            "position": {"lat": 7.9, "lon": 95.6},
            "source": "aircraft",
        },
        "cancel": {"reason": "a fishing boat"},
        "close": {"outcome": "rescued"},
        "coordination": {"to": "TH-MRCC", "note": "drifted into the Thai SRR"},
        "redact": {"fields": [TEXT.get(kind, "")], "reason": "named by mistake"},
        "legal-hold": {"on": True, "reason": "evidence"},
        "subscriptions": {"url": "http://127.0.0.1:9/new", "event_types": ["*"]},
        "replay": {"since": (utcnow() - timedelta(days=1)).isoformat()},
    }
    return by_path.get(tail)


UUIDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: str(c or "no-token"))
async def test_access_matrix(network: Network, caller: Role | None) -> None:
    network.add_agency("TH-POL", "TH", AgencyType.POLICE)
    caller_agency = "RSO" if caller is Role.PLATFORM_ADMIN else "TH-MECC"
    world = World(network, caller_agency)
    headers = {} if caller is None else await network.headers(caller, caller_agency)
    wrong = []
    for row in [row for row in ROWS if row.caller == caller]:
        path, arguments = await world.request(row)
        response = await network.http.request(row.method, path, headers=headers, **arguments)
        if response.status_code != row.status:
            wrong.append((row.method, row.path, row.owner, response.status_code, row.status))
            continue
        if row.status < 400:
            if row.owner != "own":  # nothing of another agency's hidden version 1
                assert HIDDEN not in response.text, row
                assert ":v1," not in response.text, row  # nor in CAP references
            continue
        assert response.headers["content-type"] == "application/problem+json", row
        if row.status == 403 and caller is not None:  # a missing scope says which, truly
            challenge = response.headers.get("www-authenticate", "")
            if "insufficient_scope" in challenge:
                named = re.search(r'scope="([^"]+)"', challenge)
                assert named is not None, row
                assert not set(named[1].split()) & EXPECTED_SCOPES[caller], row
        if row.status == 401:
            assert response.headers["www-authenticate"].startswith("Bearer"), row
        if row.status == 404:  # says nothing of what it hides: no id but the one asked for
            assert set(UUIDS.findall(response.text)) <= set(UUIDS.findall(path)), row
    assert not wrong, "\n".join(
        f"{m} {p} [{o}]: got {got}, table says {want}" for m, p, o, got, want in wrong
    )
