"""The request examples duty officers send from /docs are accepted as they stand."""

from typing import Any

import pytest

from models.enums import Role
from tests.support import Network

KINDS = [
    ("alerts", "AlertPatch", "BD-CG", "cancel", {"reason": None}),
    ("distress-reports", "DistressPatch", "ID-BASARNAS", "close", {"outcome": "rescued"}),
]


def _example(schema: dict[str, Any], field: str) -> Any:
    return schema["properties"][field]["examples"][0]


@pytest.mark.parametrize(("path", "patch_schema", "sender", "finish", "finish_body"), KINDS)
async def test_every_example_goes_through(
    network: Network,
    path: str,
    patch_schema: str,
    sender: str,
    finish: str,
    finish_body: dict[str, Any],
) -> None:
    spec = (await network.http.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    examples = spec["paths"][f"/v1/{path}"]["post"]["requestBody"]["content"]["application/json"]
    duty = await network.headers(Role.DUTY_OFFICER, sender)
    other = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    assert set(examples["examples"]) >= {"exercise"}
    for name, example in examples["examples"].items():
        created = await network.http.post(f"/v1/{path}", json=example["value"], headers=duty)
        assert created.status_code == 201, (name, created.text)
        url = created.headers["location"]
        status = example["value"]["status"]
        patches = schemas[patch_schema]["examples"]
        if status != "exercise":  # the first patch example only changes exercise records
            refused = await network.http.patch(url, json=patches[0], headers=duty)
            assert refused.status_code == 422, (name, refused.text)
        patch = next(p for p in patches if p.get("status", status) == status)
        patched = await network.http.patch(url, json=patch, headers=duty | {"If-Match": '"1"'})
        assert patched.status_code == 200, (name, patched.text)
        listed = await network.http.get(f"/v1/{path}?status={status}", headers=other)
        assert url.rsplit("/", 1)[1] in listed.text, name
        ack = {"note": _example(schemas["AckCreate"], "note")}
        acked = await network.http.post(f"{url}/acks", json=ack, headers=other)
        assert acked.status_code == 201, (name, acked.text)
        body = {
            key: value if value is not None else _example(schemas[f"{finish.title()}Request"], key)
            for key, value in finish_body.items()
        }
        finished = await network.http.post(f"{url}/{finish}", json=body, headers=duty)
        assert finished.status_code == 200, (name, finished.text)
