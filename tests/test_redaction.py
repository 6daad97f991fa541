"""Redaction: the sender agency removes text from one version; it is gone from every copy (the
database files, or a dump, hold no trace of it), events not yet sent carry `[redacted]`, and
exactly the agencies that could read that version hear `*.redacted`, however the record was
widened since. Bad requests are clear 4xx and change nothing. SQLite and PostgreSQL."""

from typing import Any

from typer.testing import CliRunner

from cli.main import app as cli
from delivery import outbox
from models.enums import Role
from tests.hooks import Hooks
from tests.receiver import verify
from tests.stored import places_holding
from tests.support import Network, alert_body, distress_body, handling

MARKER = "zqxredactmarker4412"
ALERTS = "/v1/alerts"
REDACTED = "[redacted]"


async def _post(network: Network, path: str, body: dict[str, Any]) -> dict[str, Any]:
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    answer = await network.http.post(path, json=body, headers=sender)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def _redact(
    network: Network, url: str, number: int, fields: list[str], agency: str = "BD-CG"
) -> Any:
    headers = await network.headers(Role.DUTY_OFFICER, agency)
    body = {"fields": fields, "reason": "Informant named by mistake"}
    return await network.http.post(f"{url}/versions/{number}/redact", json=body, headers=headers)


async def test_a_redaction_reaches_every_copy_and_exactly_its_readers(
    hooks: Hooks, database_url: str
) -> None:
    network = hooks.network
    _, my_secret = await hooks.subscribe("MY-MMEA", "/my")
    await hooks.subscribe("TH-MECC", "/th")
    first = alert_body(
        description=f"Informant {MARKER} saw the boat leave",
        vessels=[{"name": f"KM {MARKER}", "mmsi": "525012345"}],
        handling=handling("countries", recipient_countries=["MY"]),  # MY reads it, TH not
    )
    record = await _post(network, ALERTS, first)
    url = f"{ALERTS}/{record['id']}"
    await hooks.pump()  # MY-MMEA has version 1, marker and all
    assert [r.path for r in hooks.receiver.received] == ["/my"]
    hooks.receiver.received.clear()
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    widened = {
        "description": "Boat left at dawn",
        "vessels": [{"name": "KM Harapan", "mmsi": "525012345"}],
        "handling": {"distribution": "network", "recipient_countries": None},
    }
    assert (await network.http.patch(url, json=widened, headers=sender)).status_code == 200
    my = await network.headers(Role.DUTY_OFFICER, "MY-MMEA")
    ack = await network.http.post(f"{url}/acks", json={"note": "seen"}, headers=my)
    assert ack.status_code == 201  # its event carries version 2: not to be touched
    assert places_holding(database_url, MARKER)

    answer = await _redact(network, url, 1, ["description", "vessels.0.name"])
    assert answer.status_code == 200, answer.text
    version = answer.json()
    assert version["version"] == 1
    assert version["description"] == REDACTED
    assert version["vessels"][0]["name"] == REDACTED
    assert version["vessels"][0]["mmsi"] == "525012345"  # identifiers stay
    assert version["redaction"]["fields"] == ["description", "vessels.0.name"]
    assert places_holding(database_url, MARKER) == []

    versions = (await network.http.get(f"{url}/versions", headers=my)).json()["items"]
    assert [v["description"] for v in versions] == [REDACTED, "Boat left at dawn"]
    current = await network.http.get(url, headers=my)
    assert current.json()["version"] == 2
    assert current.headers["etag"] == '"2"'

    await hooks.pump()
    # the notice, due with the update and the acknowledgement, waits for them to be answered
    # (delivery/outbox.py: a notice never overtakes a copy of its record)
    hooks.clock.advance(outbox.NOTICE_WAIT.total_seconds())
    await hooks.pump()
    received = hooks.receiver.received
    assert [r.path for r in received if MARKER in r.body] == []
    to_my = {
        event["type"]: event
        for event in (verify(my_secret, r) for r in received if r.path == "/my")
    }
    assert sorted(to_my) == ["alert.acknowledged", "alert.redacted", "alert.updated"]
    told = to_my["alert.redacted"]
    assert told["data"]["version"] == 1
    assert told["data"]["description"] == REDACTED
    assert told["data"]["redaction"]["fields"] == ["description", "vessels.0.name"]
    to_th = [r for r in received if r.path == "/th"]
    assert len(to_th) == 2  # version 2 and its acknowledgement; TH never had version 1
    assert ["alert.redacted" in r.body for r in to_th] == [False, False]

    th_feed = await network.http.get("/v1/feed?after=0", headers=await _th(network))
    assert "alert.redacted" not in [e["type"] for e in th_feed.json()["events"]]
    my_feed = (await network.http.get("/v1/feed?after=0", headers=my)).json()["events"]
    assert [e["type"] for e in my_feed] == [
        "alert.created",
        "alert.updated",
        "alert.acknowledged",
        "alert.redacted",
    ]
    assert my_feed[0]["data"]["description"] == REDACTED

    again = await _redact(network, url, 1, ["description"])
    assert again.status_code == 200  # a retry: nothing more to remove, nobody told twice
    my_feed = (await network.http.get("/v1/feed?after=0", headers=my)).json()["events"]
    assert [e["type"] for e in my_feed].count("alert.redacted") == 1

    auditor = await network.headers(Role.AUDITOR, "BD-CG")
    rows = (await network.http.get("/v1/audit-events?limit=100", headers=auditor)).json()["items"]
    done = [r for r in rows if r["action"].endswith("/redact")]
    assert done[0]["detail"] == {
        "version": 1,
        "fields": ["description", "vessels.0.name"],
        "reason": "Informant named by mistake",
    }
    assert done[0]["object_id"] == record["id"]


async def _th(network: Network) -> dict[str, str]:
    return await network.headers(Role.DUTY_OFFICER, "TH-MECC")


async def test_redacting_the_current_version_unlinks_and_unfinds_it(network: Network) -> None:
    record = await _post(
        network,
        ALERTS,
        alert_body(
            headline=f"Boat {MARKER} seen",
            vessels=[{"name": "KM Setia", "call_sign": "PQ4412"}],
            handling=handling("network"),
        ),
    )
    url = f"{ALERTS}/{record['id']}"
    th = await _th(network)
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    changed = await network.http.patch(url, json={"severity": "extreme"}, headers=sender)
    assert changed.json()["version"] == 2  # the headline, unchanged, copied into version 2
    assert (await network.http.get("/v1/vessels/callsign:PQ4412", headers=th)).status_code == 200
    first = await _redact(network, url, 1, ["headline"])
    assert first.json()["redaction"]["also_in_versions"] == [2]  # …so the answer says so
    found = await network.http.get(ALERTS, params={"q": MARKER}, headers=th)
    assert len(found.json()["items"]) == 1  # still in the current version
    answer = await _redact(network, url, 2, ["headline", "vessels.0.call_sign"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["redaction"]["also_in_versions"] == [1]  # version 1's call sign
    current = (await network.http.get(url, headers=th)).json()
    assert current["headline"] == REDACTED
    assert current["vessels"][0]["call_sign"] == REDACTED
    assert (await network.http.get("/v1/vessels/callsign:PQ4412", headers=th)).status_code == 404
    found = await network.http.get(ALERTS, params={"q": MARKER}, headers=th)
    assert found.json()["items"] == []
    cap = await network.http.get(f"{url}/cap", headers=th)
    assert MARKER not in cap.text

    report = await _post(
        network,
        "/v1/distress-reports",
        distress_body(
            actions_taken=f"Called {MARKER} on his phone",
            assistance_required=["medical evacuation", f"contact {MARKER}"],
        ),
    )
    url = f"/v1/distress-reports/{report['id']}"
    answer = await _redact(network, url, 1, ["actions_taken", "assistance_required.1"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["assistance_required"] == ["medical evacuation", REDACTED]
    assert MARKER not in (await network.http.get(url, headers=th)).text


async def test_bad_redactions_are_clear_and_change_nothing(
    network: Network, cli_env: CliRunner
) -> None:
    body = alert_body(description=MARKER, place_name=None, vessels=[{"name": "KM Setia"}])
    record = await _post(network, ALERTS, body)
    url = f"{ALERTS}/{record['id']}"
    for fields, words in (
        (["category"], "not a text field of an alert"),
        (["nope"], "not a text field"),
        (["vessels.0.mmsi"], "not a text field"),
        (["actions_taken"], "not a text field of an alert"),  # a distress report's
        (["vessels.3.name"], "holds no text"),
        (["place_name"], "holds no text"),
        (["description", "handling"], "`handling` is not a text field"),
        ([], "at least 1"),
        (["Description!"], "string should match pattern"),
    ):
        answer = await _redact(network, url, 1, fields)
        assert answer.status_code == 422, (fields, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert words.lower() in answer.text.lower(), (fields, answer.text)
    assert (await _redact(network, url, 9, ["description"])).status_code == 404
    assert (await _redact(network, url, 0, ["description"])).status_code == 422
    # another agency, that reads it: not its record; one that cannot read it: no such record
    assert (await _redact(network, url, 1, ["description"], "MY-MMEA")).status_code == 403
    hidden = await _post(network, ALERTS, alert_body(handling=handling("national")))
    hidden_url = f"{ALERTS}/{hidden['id']}"
    assert (await _redact(network, hidden_url, 1, ["headline"], "MY-MMEA")).status_code == 404
    viewer = await network.headers(Role.VIEWER, "BD-CG")
    no_scope = await network.http.post(
        f"{url}/versions/1/redact", json={"fields": ["description"], "reason": "x"}, headers=viewer
    )
    assert no_scope.status_code == 403
    no_reason = await network.http.post(
        f"{url}/versions/1/redact",
        json={"fields": ["description"]},
        headers=await network.headers(Role.DUTY_OFFICER, "BD-CG"),
    )
    assert no_reason.status_code == 422
    th = await _th(network)
    assert (await network.http.get(url, headers=th)).json()["description"] == MARKER

    cli_env.invoke(cli, ["retention", "purge", "--as-of", "2100-01-01T00:00:00Z"])
    gone = await _redact(network, url, 1, ["description"])
    assert gone.status_code == 410
    assert gone.headers["content-type"] == "application/problem+json"
