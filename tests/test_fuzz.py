"""Schemathesis against the service's own OpenAPI document, in process, on both databases.

Every operation gets the examples, coverage and fuzzing phases (positive and negative data);
the stateful test walks the document's links (publish, then read, patch, acknowledge, ...).
Every built-in check runs. Requests carry real tokens (from the token endpoint) of several roles
and countries; which one follows from a hash of the request, so a failure replays with the same.
`RILON_FUZZ_EXAMPLES` raises the number of examples per operation (docs/FUZZING.md).
"""

import os
import shutil
import tempfile
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from anyio.from_thread import start_blocking_portal
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from schemathesis.python import asgi
from sqlalchemy import create_engine, delete, insert, select
from starlette.types import Receive, Scope, Send

from api.app import create_app
from auth.scopes import ROLE_SCOPES
from core.db import Database, normalize_url
from models.base import metadata
from models.enums import Role
from tests.conftest import make_settings, reset_postgres
from tests.support import Credential, Network

Case = schemathesis.Case[Any]

EXAMPLES = int(os.environ.get("RILON_FUZZ_EXAMPLES", "5"))
STEPS = int(os.environ.get("RILON_FUZZ_STEPS", "8"))
SEED = 6_2026

# (agency, role): one duty officer per country, an MRCC, a viewer, admins and an auditor
PRINCIPALS = [
    ("TH-MECC", Role.DUTY_OFFICER),
    ("MY-MMEA", Role.DUTY_OFFICER),
    ("ID-BASARNAS", Role.DUTY_OFFICER),
    ("BD-CG", Role.VIEWER),
    ("TH-MECC", Role.AGENCY_ADMIN),
    ("RSO", Role.PLATFORM_ADMIN),
    ("MY-MMEA", Role.AUDITOR),
]

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
]


ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]  # its default but 5xx (never accepted)


def accepting(*statuses: str, name: str) -> dict[str, Any]:
    """Positive data may also get `statuses` in the operations whose name ("METHOD /path")
    matches the regular expression `name`: whether a schema-valid value is valid depends on
    the database (or the network), which no schema can say. One filter, as schemathesis ORs
    several (`include-method` with `include-path` would take in every POST)."""
    expected = {"expected-statuses": [*ACCEPTED, *statuses]}
    return {"include-name-regex": name, "checks": {"positive_data_acceptance": expected}}


OPERATIONS = [
    # the country must be registered first
    accepting("422", name="^POST /v1/agencies$"),
    # the roles must be grantable by the caller, platform_admin only in the secretariat
    accepting("422", name="^POST /v1/agencies/{code}/clients$"),
    # the URL must resolve, and to an address webhooks may go to
    accepting("422", name="^(POST|PATCH) /v1/subscriptions(/[^/]+)?$"),
    # a replay reaches back only so far, over only so many events: the clock and the event
    # log decide, not the schema
    accepting("422", name="^POST /v1/subscriptions/[^/]+/replay$"),
    # `cursor` is opaque: only what an earlier page handed out is a cursor
    accepting("422", name="^GET /v1/(geo/)?(alerts|distress-reports)$"),
    accepting("422", name="^GET /v1/audit-events$"),
    # cross-field rules no JSON Schema in the document states (recipients only with their
    # distribution, min <= estimate <= max, a vessel named by something, the IMO check digit)
    # and country codes that must be in the registry
    accepting("422", name="^POST /v1/(alerts|distress-reports)$"),
    # the same, and an If-Match that is well formed but stale is 412: only the database knows
    # which version is current
    accepting("422", "412", name="^PATCH /v1/(alerts|distress-reports)/[^/]+$"),
    accepting("412", name="^POST /v1/(alerts|distress-reports)/[^/]+/(cancel|close)$"),
    # a sighting seen more than 5 minutes ahead of the server's clock: the clock decides
    accepting("422", name="^POST /v1/(alerts|distress-reports)/[^/]+/sightings$"),
    # cursors again; and a vessel key's digits (the IMO check digit) no pattern states
    accepting("422", name="^GET /v1/(alerts|distress-reports)/[^/]+/(sightings|versions)$"),
    accepting("422", name="^GET /v1/(cases|vessels/[^/]+)$"),
]


def config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "suppress-health-check": ["all"],
            "generation": {
                "mode": "all",
                "max-examples": EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "checks": {name: {"enabled": True} for name in CHECKS},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": STEPS},
            },
            "operations": [
                # Argon2 makes every token request slow on purpose: a few examples suffice.
                {"include-path": "/v1/auth/token", "generation": {"max-examples": 3}},
                *OPERATIONS,
            ],
        }
    )


def _issue(http: Any, credential: Credential) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": credential.client_id,
        "client_secret": credential.secret,
    }
    response = http.post("/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


SCOPES = [frozenset(str(scope) for scope in ROLE_SCOPES[role]) for _, role in PRINCIPALS]
PLACEHOLDER = "Bearer principal-"
RECEIVER = "http://127.0.0.1:9/rilon"  # allowed in tests; the dispatcher does not run


def principal_for(case: Case, key: object = None) -> int:
    """Mostly a principal holding the operation's scopes, so requests get past the door; now
    and then anyone, so refusals are fuzzed too. The choice follows from `key`, by default
    the request itself."""
    if key is None:
        key = (case.method, case.path, case.path_parameters, case.query, case.body)
    digest = zlib.crc32(repr(key).encode())
    wanted: set[str] = set()
    for requirement in case.operation.definition.raw.get("security", []):
        for scopes in requirement.values():
            wanted.update(scopes)
    holders = [i for i, scopes in enumerate(SCOPES) if wanted <= scopes]
    pool = holders if holders and digest % 4 else list(range(len(SCOPES)))
    return pool[(digest // 4) % len(pool)]


class BearerOfSomeRole:
    """Marks the request with a principal; `Fuzzed.prepare` puts in that principal's token
    (cases can be built before any app runs, at collection)."""

    def get(self, case: Case, context: schemathesis.AuthContext) -> int:
        return principal_for(case)

    def set(self, case: Case, data: int, context: schemathesis.AuthContext) -> None:
        case.headers["Authorization"] = f"{PLACEHOLDER}{data}"


class Started:
    """The app with its lifespan hidden: schemathesis ends an ASGI app's lifespan after every
    test, but this module keeps one app (and database) for all of its tests, so the fixture
    runs the real lifespan and schemathesis sees an app that merely acknowledges its own."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


@dataclass
class Fuzzed:
    """The app under test and its principals' tokens, one app per database."""

    app: Started
    tokens: list[str]
    url: str

    def prepare(self, case: Case) -> None:
        """Put in the principal's token; cut long polls short (test_feed.py tests waiting)."""
        header = str(case.headers.get("Authorization", ""))
        if header.startswith(PLACEHOLDER):
            token = self.tokens[int(header.removeprefix(PLACEHOLDER))]
            case.headers["Authorization"] = f"Bearer {token}"
        if (
            case.meta is not None
            and case.meta.generation.mode.is_positive
            and case.path.startswith("/v1/subscriptions")
            and isinstance(case.body, dict)
            and "url" in case.body
        ):
            case.body["url"] = RECEIVER  # example hosts do not resolve: nothing would subscribe
        if _seconds(case.query.get("wait")) is not None:
            case.query["wait"] = 0.01


class Snapshot:
    """Every table's rows, to put back: Hypothesis expects each scenario of a state machine to
    start from the same system, or a scenario that retraces an earlier one's first steps meets
    other answers (a 409 where there was a 201) and it reports its own generation as flaky."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(normalize_url(url))
        with self.engine.connect() as connection:
            self.rows = {
                table: [dict(row) for row in connection.execute(select(table)).mappings()]
                for table in metadata.sorted_tables
            }

    def restore(self) -> None:
        with self.engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                connection.execute(delete(table))
            for table in metadata.sorted_tables:
                if self.rows[table]:
                    connection.execute(insert(table), self.rows[table])

    def close(self) -> None:
        self.engine.dispose()


def _seconds(wait: object) -> float | None:
    """A long poll's `wait` (a number, or in the examples phase a string) if it would wait."""
    if isinstance(wait, bool):
        return None
    try:
        seconds = float(wait)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return seconds if 0 < seconds <= 30 else None


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    async with LifespanManager(app):
        yield


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def fuzzed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fuzzed]:
    """One app per database for the whole module: the fuzz builds on what earlier cases wrote."""
    tmp = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'rilon.db'}"
        shutil.copy(request.getfixturevalue("sqlite_template"), tmp / "rilon.db")
    else:
        url = request.getfixturevalue("postgres_database")
        reset_postgres(url)
    app = create_app(make_settings(url, tmp))
    started = Started(app)
    db = Database(url)
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(running(app)):
        try:
            with asgi.get_client(started) as http:  # type: ignore[arg-type]
                network = Network.seed(db, http)  # type: ignore[arg-type]
                tokens = [_issue(http, network.role(role, agency)) for agency, role in PRINCIPALS]
            yield Fuzzed(started, tokens, url)
        finally:
            db.close()


def load_schema(app: FastAPI) -> schemathesis.BaseSchema:
    loaded = schemathesis.openapi.from_dict(app.openapi(), config=config())
    loaded.auth(refresh_interval=None)(BearerOfSomeRole)
    return loaded


# The document does not depend on the database: read it from an app that never starts.
_DOC_DIR = Path(tempfile.gettempdir())
schema = load_schema(create_app(make_settings(f"sqlite:///{_DOC_DIR / 'unused.db'}", _DOC_DIR)))


@schema.parametrize()
def test_every_operation(case: Case, fuzzed: Fuzzed) -> None:
    fuzzed.prepare(case)
    case.call_and_validate(app=fuzzed.app)


def publishing_opens_scenarios(loaded: schemathesis.BaseSchema) -> None:
    """schemathesis infers from the field name `case_id` a resource "Case" that no operation
    creates, and so never opens a scenario by publishing (POST /v1/alerts, /v1/distress-
    reports), the first step of this API's every workflow. `case_id` is free text that
    groups the records of one case, not a reference: drop that inference."""
    for node in loaded.analysis.dependency_graph.operations.values():  # type: ignore[attr-defined]
        node.inputs = [slot for slot in node.inputs if slot.resource.name != "Case"]


def test_stateful(fuzzed: Fuzzed) -> None:
    loaded = load_schema(fuzzed.app.app)
    loaded.app = fuzzed.app
    publishing_opens_scenarios(loaded)

    failures: list[BaseException] = []
    snapshot = Snapshot(fuzzed.url)

    class Machine(loaded.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            snapshot.restore()
            self.principal: int | None = None

        def before_call(self, case: Case) -> None:
            # One caller a scenario, chosen for its first operation: what it creates, it must
            # then find (another agency may rightly get 404). Chosen from the operation, not
            # the request: ids come from earlier answers and are random, and a retraced
            # scenario must send the same.
            if self.principal is None:
                self.principal = principal_for(case, key=(case.method, case.path))
            case.headers["Authorization"] = f"{PLACEHOLDER}{self.principal}"
            fuzzed.prepare(case)
            super().before_call(case)

        def validate_response(self, response: Any, case: Case, *args: Any, **kwargs: Any) -> None:
            try:
                super().validate_response(response, case, *args, **kwargs)
            except Exception as exc:
                failures.append(exc)
                raise

    try:
        _run(Machine)
    except hypothesis.errors.FlakyStrategyDefinition:
        # what the database cannot put back (the time, the rate limiter) may still make a
        # retraced scenario differ: report what failed in the first place, if anything did
        if failures:
            raise failures[0] from None
        raise
    finally:
        snapshot.close()


def _run(machine: Any) -> None:
    machine.run(
        settings=hypothesis.settings(
            max_examples=3 * EXAMPLES,
            stateful_step_count=STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            # the database outlives each example, so a replay is not the same run: report the
            # first failure as it happened instead of shrinking into a flaky one
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
