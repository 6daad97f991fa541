"""Pressing Execute in /docs never posts an actual report; records say their language."""

from typing import Any
from urllib.parse import urlsplit

import pytest
from lxml import etree

from models.enums import Role
from tests.support import Network, alert_body, distress_body
from tests.test_cap_geo_acks import CAP, _valid, cap_schema

__all__ = ["cap_schema"]  # the fixture, shared with the CAP tests

WRITES = ("post", "put", "patch")
# Writes that carry no report and act on no record: tokens and the registry (platform admins);
# a replay re-sends what the agency's own receiver already had.
NOT_REPORTS = ("/v1/auth/", "/v1/countries", "/v1/agencies", "/replay")


def _schema(spec: dict[str, Any], media: dict[str, Any]) -> dict[str, Any]:
    ref: str = media["schema"]["$ref"]
    schema: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def _first_example(spec: dict[str, Any], media: dict[str, Any]) -> Any:
    """What Swagger UI fills the body with: the first named example, else the schema's first
    example, else one built from the fields' examples."""
    if media.get("examples"):
        return next(iter(media["examples"].values()))["value"]
    schema = _schema(spec, media)
    if schema.get("examples"):
        return schema["examples"][0]
    return {
        name: field["examples"][0]
        for name, field in schema["properties"].items()
        if field.get("examples")
    }


def _is_exercise(example: Any, schema: dict[str, Any]) -> bool:
    if "status" in schema["properties"]:  # a record, or a patch of one
        return bool(example.get("status") == "exercise")
    texts = [value for value in example.values() if isinstance(value, str)]
    if "url" in example:  # a receiver: on a name that never resolves (RFC 2606)
        return (urlsplit(str(example["url"])).hostname or "").endswith(".example")
    return any(text.startswith("EXERCISE") for text in texts)


async def test_the_first_example_of_every_write_is_an_exercise(network: Network) -> None:
    spec = (await network.http.get("/openapi.json")).json()
    checked = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if method not in WRITES or body is None or any(p in path for p in NOT_REPORTS):
                continue
            media = body["content"]["application/json"]
            example = _first_example(spec, media)
            assert example, (method, path, "has no example")
            assert _is_exercise(example, _schema(spec, media)), (method, path, example)
            checked.append(f"{method} {path}")
    assert {
        "post /v1/alerts",
        "post /v1/distress-reports",
        "patch /v1/alerts/{record_id}",
        "post /v1/alerts/{record_id}/cancel",
        "post /v1/distress-reports/{record_id}/close",
        "post /v1/distress-reports/{record_id}/acks",
        "post /v1/subscriptions",
    } <= set(checked)


async def test_the_default_example_posts_an_exercise(network: Network) -> None:
    spec = (await network.http.get("/openapi.json")).json()
    duty = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    reader = await network.headers(Role.VIEWER, "MY-MMEA")
    for path in ("alerts", "distress-reports"):
        media = spec["paths"][f"/v1/{path}"]["post"]["requestBody"]["content"]["application/json"]
        posted = await network.http.post(
            f"/v1/{path}", json=_first_example(spec, media), headers=duty
        )
        assert posted.status_code == 201, posted.text
        assert posted.json()["status"] == "exercise"
        actual = await network.http.get(f"/v1/{path}", headers=reader)
        assert actual.json()["items"] == []  # no duty officer sees it as a real report


async def test_language_defaults_to_english_and_goes_into_cap(
    network: Network, cap_schema: etree.XMLSchema
) -> None:
    duty = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    english = await network.http.post("/v1/alerts", json=alert_body(), headers=duty)
    assert english.json()["language"] == "en"
    body = alert_body(headline="Bot kayu dilihat di Langkawi", language="ms-MY")
    malay = await network.http.post("/v1/alerts", json=body, headers=duty)
    assert malay.status_code == 201, malay.text
    url = malay.headers["location"]
    assert (await network.http.get(url, headers=duty)).json()["language"] == "ms-MY"
    for created, language in ((english, "en"), (malay, "ms-MY")):
        cap = await network.http.get(f"{created.headers['location']}/cap", headers=duty)
        document = _valid(cap_schema, cap.content)
        assert document.findtext(f"{CAP}info/{CAP}language") == language
    patched = await network.http.patch(url, json={"language": "id"}, headers=duty)
    assert patched.json()["language"] == "id"
    report = await network.http.post(
        "/v1/distress-reports", json=distress_body(language="th"), headers=duty
    )
    assert report.json()["language"] == "th"


@pytest.mark.parametrize("tag", ["english", "e", "en_GB", "en-", "ms-MY-", 7, "x" * 36])
async def test_a_malformed_language_tag_is_422(network: Network, tag: Any) -> None:
    duty = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    response = await network.http.post("/v1/alerts", json=alert_body(language=tag), headers=duty)
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["language"]
