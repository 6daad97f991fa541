"""The OpenAPI document as generated clients and /docs read it: operation ids and tag order."""

import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from tests.conftest import make_settings

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")

# The public contract: a client generated from /openapi.json calls these names.
OPERATION_IDS = {
    ("GET", "/healthz"): "healthz_get",
    ("GET", "/readyz"): "readyz_get",
    ("GET", "/metrics"): "metrics_get",
    ("POST", "/v1/auth/token"): "auth_token",
    ("POST", "/v1/auth/revoke"): "auth_revoke",
    ("GET", "/v1/auth/me"): "auth_me_get",
    ("GET", "/v1/countries"): "countries_list",
    ("POST", "/v1/countries"): "countries_create",
    ("GET", "/v1/agencies"): "agencies_list",
    ("POST", "/v1/agencies"): "agencies_create",
    ("GET", "/v1/agencies/{code}"): "agencies_get",
    ("GET", "/v1/agencies/{code}/clients"): "agencies_clients_list",
    ("POST", "/v1/agencies/{code}/clients"): "agencies_clients_create",
    ("DELETE", "/v1/clients/{client_id}"): "clients_delete",
    **{
        (method, f"/v1/{kind}{suffix}"): f"{kind.replace('-', '_')}_{name}"
        for kind in ("alerts", "distress-reports")
        for method, suffix, name in (
            ("GET", "", "list"),
            ("POST", "", "create"),
            ("GET", "/{record_id}", "get"),
            ("PATCH", "/{record_id}", "update"),
            ("GET", "/{record_id}/versions", "versions_list"),
            ("GET", "/{record_id}/acks", "acks_list"),
            ("POST", "/{record_id}/acks", "acks_create"),
            ("GET", "/{record_id}/sightings", "sightings_list"),
            ("POST", "/{record_id}/sightings", "sightings_create"),
            ("POST", "/{record_id}/versions/{number}/redact", "versions_redact"),
            ("POST", "/{record_id}/legal-hold", "legal_hold"),
        )
    },
    ("POST", "/v1/alerts/{record_id}/cancel"): "alerts_cancel",
    ("GET", "/v1/alerts/{record_id}/cap"): "alerts_cap_get",
    ("POST", "/v1/distress-reports/{record_id}/close"): "distress_reports_close",
    ("GET", "/v1/cases"): "cases_list",
    ("GET", "/v1/cases/{case_id}"): "cases_get",
    ("GET", "/v1/vessels/{key}"): "vessels_get",
    ("POST", "/v1/distress-reports/{record_id}/coordination"): "distress_reports_coordination",
    ("GET", "/v1/geo/alerts"): "geo_alerts_list",
    ("GET", "/v1/geo/distress-reports"): "geo_distress_reports_list",
    ("GET", "/v1/feed"): "feed_get",
    ("GET", "/v1/subscriptions"): "subscriptions_list",
    ("POST", "/v1/subscriptions"): "subscriptions_create",
    ("GET", "/v1/subscriptions/{subscription_id}"): "subscriptions_get",
    ("PATCH", "/v1/subscriptions/{subscription_id}"): "subscriptions_update",
    ("DELETE", "/v1/subscriptions/{subscription_id}"): "subscriptions_delete",
    ("POST", "/v1/subscriptions/{subscription_id}/rotate-secret"): "subscriptions_rotate_secret",
    ("POST", "/v1/subscriptions/{subscription_id}/ping"): "subscriptions_ping",
    ("POST", "/v1/subscriptions/{subscription_id}/enable"): "subscriptions_enable",
    ("POST", "/v1/subscriptions/{subscription_id}/replay"): "subscriptions_replay",
    ("GET", "/v1/subscriptions/{subscription_id}/replay"): "subscriptions_replay_get",
    ("GET", "/v1/subscriptions/{subscription_id}/deliveries"): "subscriptions_deliveries_list",
    ("POST", "/v1/deliveries/{delivery_id}/redeliver"): "deliveries_redeliver",
    ("GET", "/v1/audit-events"): "audit_events_list",
    ("GET", "/v1/audit-events/verify"): "audit_events_verify_get",
}

TAG_ORDER = [
    "alerts",
    "distress-reports",
    "cases",
    "feed",
    "webhooks",
    "geo",
    "registry",
    "auth",
    "audit",
    "operations",
]


@pytest.fixture
async def spec(tmp_path: Path) -> dict[str, Any]:
    app = create_app(make_settings(f"sqlite:///{tmp_path}/unused.db", tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _operation_ids(spec: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (method.upper(), path): operation["operationId"]
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }


async def test_operation_ids_are_unique_snake_case(spec: dict[str, Any]) -> None:
    ids = _operation_ids(spec)
    repeated = [name for name, count in Counter(ids.values()).items() if count > 1]
    assert repeated == []
    assert [name for name in ids.values() if not SNAKE_CASE.match(name)] == []


async def test_operation_ids_are_the_published_names(spec: dict[str, Any]) -> None:
    assert _operation_ids(spec) == OPERATION_IDS


async def test_the_integration_guide_quotes_real_ids(spec: dict[str, Any]) -> None:
    guide = (Path(__file__).parent.parent / "docs" / "INTEGRATION.md").read_text()
    paragraph = next(part for part in guide.split("\n\n") if "operation id" in part)
    quoted = set(re.findall(r"`([a-z0-9_]+_[a-z0-9_]+)`", paragraph))
    assert quoted
    assert quoted <= set(_operation_ids(spec).values())


async def test_schemas_are_named_after_operation_ids(spec: dict[str, Any]) -> None:
    # FastAPI names form bodies after the id: a generated client shows these names too
    schemas = spec["components"]["schemas"]
    assert {"Body_auth_token", "Body_auth_revoke"} <= schemas.keys()
    assert [name for name in schemas if "_v1_" in name] == []


async def test_tags_come_in_a_duty_officers_order(spec: dict[str, Any]) -> None:
    tags = spec["tags"]
    assert [tag["name"] for tag in tags] == TAG_ORDER
    assert all(tag["description"] and "\n" not in tag["description"] for tag in tags)
    used = {
        tag
        for operations in spec["paths"].values()
        for op in operations.values()
        for tag in op["tags"]
    }
    assert used == set(TAG_ORDER)
