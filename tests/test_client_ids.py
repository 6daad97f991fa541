"""Other agencies see agency codes, never another agency's client ids (an id is what the token
endpoint is attacked with); the agency's own callers and its country's auditors still do."""

from models.enums import Role
from tests.support import Network, alert_body, handling


async def test_acknowledgements_show_other_agencies_the_acking_agency(network: Network) -> None:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = alert_body(handling=handling("network", ack_required=True))
    alert = (await network.http.post("/v1/alerts", json=body, headers=sender)).json()
    url = f"/v1/alerts/{alert['id']}/acks"
    acker = network.role(Role.DUTY_OFFICER, "MY-MMEA")
    acked = await network.http.post(
        url,
        json={"note": "patrol tasked"},
        headers=await network.headers(Role.DUTY_OFFICER, "MY-MMEA"),
    )
    assert acked.status_code == 201, acked.text
    assert acked.json()["client_id"] == acker.client_id  # the caller's own
    for agency in ("BD-CG", "TH-MECC"):
        reader = await network.headers(Role.DUTY_OFFICER, agency)
        listed = await network.http.get(url, headers=reader)
        assert listed.json()["acknowledged"][0]["client_id"] == "MY-MMEA"
        feed = await network.http.get("/v1/feed", headers=reader)
        acknowledged = [e for e in feed.json()["events"] if e["type"] == "alert.acknowledged"]
        assert acknowledged[0]["data"]["acknowledgement"]["client_id"] == "MY-MMEA"
        for answer in (listed, feed):
            assert acker.client_id not in answer.text, agency
    colleague = await network.headers(Role.VIEWER, "MY-MMEA")
    own = (await network.http.get(url, headers=colleague)).json()
    assert own["acknowledged"][0]["client_id"] == acker.client_id


async def test_auditors_see_other_countries_callers_as_agencies(network: Network) -> None:
    th = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    body = alert_body(handling=handling("network"))
    alert = (await network.http.post("/v1/alerts", json=body, headers=th)).json()["id"]
    reader = network.role(Role.VIEWER, "MY-MMEA")
    read = await network.http.get(
        f"/v1/alerts/{alert}", headers=await network.headers(Role.VIEWER, "MY-MMEA")
    )
    assert read.status_code == 200
    sender = network.role(Role.DUTY_OFFICER, "TH-MECC").client_id

    async def actors(role: Role, agency: str) -> dict[tuple[str, str], str]:
        """Who each audit row the caller sees names, by (agency, action) on the alert."""
        headers = await network.headers(role, agency)
        page = await network.http.get(f"/v1/audit-events?object_id={alert}", headers=headers)
        assert page.status_code == 200, page.text
        return {(e["actor_agency"], e["action"]): e["actor_client"] for e in page.json()["items"]}

    read_row = ("MY-MMEA", "GET /v1/alerts/{record_id}")
    post_row = ("TH-MECC", "POST /v1/alerts")
    thai = await actors(Role.AUDITOR, "TH-MECC")  # sees MY's access to a TH record
    assert thai[read_row] == "MY-MMEA"
    assert thai[post_row] == sender  # its own country's
    malaysian = await actors(Role.AUDITOR, "MY-MRCC")  # MY's auditor: MY's own access
    assert malaysian[read_row] == reader.client_id
    admin = await actors(Role.PLATFORM_ADMIN, "TH-MECC")
    assert admin[read_row] == reader.client_id
    assert admin[post_row] == sender
    everything = await network.http.get(
        "/v1/audit-events?limit=500", headers=await network.headers(Role.AUDITOR, "TH-MECC")
    )
    assert reader.client_id not in everything.text


async def test_auditors_see_a_client_acted_on_as_its_agency(network: Network) -> None:
    """The platform admin sits in the TH secretariat, so TH's auditors see what it does; a
    client of another country it deactivates shows as that client's agency."""
    admin = await network.headers(Role.PLATFORM_ADMIN)
    foreign = network.add_client("foreign", "MY-MMEA", Role.VIEWER).client_id
    domestic = network.add_client("domestic", "TH-MRCC", Role.VIEWER).client_id
    for client_id in (foreign, domestic):
        gone = await network.http.delete(f"/v1/clients/{client_id}", headers=admin)
        assert gone.status_code == 200, gone.text
    auditor = await network.headers(Role.AUDITOR, "TH-MECC")
    page = await network.http.get("/v1/audit-events?limit=500", headers=auditor)
    deactivated = {
        e["object_id"]
        for e in page.json()["items"]
        if e["action"] == "DELETE /v1/clients/{client_id}"
    }
    assert deactivated == {"MY-MMEA", domestic}
    assert foreign not in page.text
    everything = await network.http.get("/v1/audit-events?limit=500", headers=admin)
    assert foreign in everything.text
