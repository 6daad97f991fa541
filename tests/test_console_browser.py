"""/console rendered by headless Chromium against a real `rilon serve`.

The token is handed over in the URL fragment (`/console#token=…`), as docs/INTEGRATION.md
describes for wall displays. Assertions are on the DOM the page built from the API, and a
screenshot is kept in the test's tmp dir. Without Chromium the test is skipped, except under
CI=true (`.ci/run` installs it), where it fails.
"""

import asyncio
import hashlib
import os
import shutil
import signal
import struct
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from models.alerts import EXAMPLE as ALERT_EXAMPLE
from models.distress import EXAMPLE as DISTRESS_EXAMPLE
from tests.newcomer import newcomer
from tests.support import alert_body, distress_body, handling

HEADLINE = "Unlit trawler with about 60 persons heading for Langkawi"
HIDDEN_HEADLINE = "Thai national matter: not for Malaysia"
FLAGS = [
    "--headless",
    "--no-sandbox",  # we run as root in CI containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=15000",  # virtual time waits for the page's fetches to finish
]
WIDTH, HEIGHT = 1400, 900


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        reason = "chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; the console test is required under CI=true")
        pytest.skip(reason)
    return found


def browse(browser: str, profile: Path, *args: str) -> str:
    """Run headless Chromium once with a fresh profile; its stdout (the DOM for --dump-dom)."""
    argv = [browser, *FLAGS, f"--user-data-dir={profile}", *args]
    popen = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        out, err = popen.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(popen.pid, signal.SIGKILL)  # the browser and its helper processes
        popen.communicate()
        raise
    assert popen.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


def texts(tree: Any, xpath: str) -> list[str]:
    return [" ".join(node.text_content().split()) for node in tree.xpath(xpath)]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    return width, height


async def test_console_shows_what_the_token_may_see(tmp_path: Path) -> None:
    browser = chromium()
    async with newcomer(tmp_path) as rig:
        alert = await rig.post_alert(HEADLINE)
        await rig.post_alert(HIDDEN_HEADLINE, distribution="national")
        # A console needs to read, nothing more: narrow the token to that.
        token = await rig.token("mmea-watch", scope="alerts:read distress:read")
        page = rig.api.url(f"/console#token={token}")

        dom = await asyncio.to_thread(browse, browser, tmp_path / "profile-1", "--dump-dom", page)
        tree = lxml.html.fromstring(dom)
        assert tree.xpath('//form[@id="signin"]/@hidden'), "signed in: the form is hidden"
        assert not tree.xpath("//main/@hidden")
        assert texts(tree, '//*[@id="who"]') == [
            "mmea-watch · Malaysian Maritime Enforcement Agency (MY-MMEA)"
        ]
        assert texts(tree, '//*[@id="error"]') == [""]
        assert texts(tree, '//*[@id="updated"]')[0].startswith("Updated ")
        [row] = tree.xpath('//table[@id="alerts"]/tbody/tr')
        assert row.get("data-id") == alert["id"]
        cells = texts(row, "td")
        assert cells[1:4] == ["severe", "smuggling departure", HEADLINE]
        assert cells[5:7] == ["TH-MECC", "AMBER"]
        assert cells[7] == "0 of 1 acknowledged · yours pending · waiting for MY-MMEA"
        assert HIDDEN_HEADLINE not in dom
        assert texts(tree, '//table[@id="distress"]/tbody/tr') == [
            "Nothing visible to your agency."
        ]

        screenshot = tmp_path / "console.png"
        await asyncio.to_thread(
            browse,
            browser,
            tmp_path / "profile-2",
            f"--screenshot={screenshot}",
            f"--window-size={WIDTH},{HEIGHT}",
            page,
        )
        assert png_size(screenshot) == (WIDTH, HEIGHT)
        assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one
        stale = await asyncio.to_thread(
            browse, browser, tmp_path / "profile-3", "--dump-dom", page.replace(token, "x.y.z")
        )
        tree = lxml.html.fromstring(stale)
        assert not tree.xpath('//form[@id="signin"]/@hidden'), "a bad token: sign in again"
        assert tree.xpath("//main/@hidden")
        assert "sign in again" in texts(tree, '//*[@id="error"]')[0]
    # The fragment never reaches the server, so no log of it holds the token.
    assert token not in rig.api.log().read_text(errors="replace")


async def test_console_map_shows_the_picture_and_the_picked_case(tmp_path: Path) -> None:
    """The map: coasts from the vendored basemap, a marker for each record the token may see
    (none for the one it may not), a stale position flagged with its age, and the record
    named in the fragment opened with its history."""
    browser = chromium()
    async with newcomer(tmp_path) as rig:
        alert = await rig.post_alert(HEADLINE)
        hidden = await rig.post_alert(HIDDEN_HEADLINE, distribution="national")
        fixed = (datetime.now(UTC) - timedelta(hours=8)).isoformat().replace("+00:00", "Z")
        body = distress_body(coordinating_rcc=None, case_id=None)
        position = {**DISTRESS_EXAMPLE["position"], "lat": 5.9, "lon": 97.1, "fix_time": fixed}
        body["position"] = position
        body["handling"] = {
            "distribution": "countries",
            "tlp": "amber",
            "recipient_countries": ["MY"],
        }
        report = await rig.created("/v1/distress-reports", body, "mecc-watch")
        token = await rig.token("mmea-watch", scope="alerts:read distress:read")
        page = rig.api.url(f"/console#token={token}&select={report['id']}")

        dom = await asyncio.to_thread(browse, browser, tmp_path / "profile-1", "--dump-dom", page)
        tree = lxml.html.fromstring(dom)
        assert texts(tree, '//*[@id="error"]') == [""]
        countries = texts(
            tree, '//*[@id="map"]//*[contains(@class, "country")]/*[local-name()="title"]'
        )
        assert {"Malaysia", "Thailand", "Indonesia", "Bangladesh", "Myanmar"} <= set(countries)
        markers = tree.xpath('//*[@id="map"]//*[local-name()="circle"]/@data-id')
        assert sorted(markers) == sorted([alert["id"], report["id"]])
        assert hidden["id"] not in dom
        [row] = tree.xpath('//table[@id="distress"]/tbody/tr')
        cell = row.xpath("td")[2]
        assert texts(row, "td")[2] == "5.900, 97.100 · 8 h ago"
        assert "stale" in cell.get("class").split()
        assert "selected" in row.get("class").split()
        assert not tree.xpath('//*[@id="case"]/@hidden'), "the record named in #select= is open"
        assert texts(tree, '//*[@id="case-title"]') == [f"Distress report {report['id'][:8]}"]
        [entry] = texts(tree, '//*[@id="case-events"]/li')
        assert entry.endswith("v1 · TH-MECC · distress phase · 180 persons")

        screenshot = tmp_path / "console-map.png"
        await asyncio.to_thread(
            browse,
            browser,
            tmp_path / "profile-2",
            f"--screenshot={screenshot}",
            f"--window-size={WIDTH},{HEIGHT}",
            page,
        )
        assert png_size(screenshot) == (WIDTH, HEIGHT)
        assert screenshot.stat().st_size > 60_000  # coasts and markers, not a blank frame


def test_the_vendored_basemap_is_what_its_readme_says() -> None:
    vendor = Path(__file__).resolve().parents[1] / "api" / "static" / "vendor"
    readme = (vendor / "README.md").read_text()
    for name in ("countries-50m.json", "topojson-client.min.js"):
        digest = hashlib.sha256((vendor / name).read_bytes()).hexdigest()
        assert f"`{name}` {digest}" in readme.replace("\n", " "), name
    assert (vendor / "LICENSE-world-atlas").is_file()
    assert (vendor / "LICENSE-topojson-client").is_file()


def _ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


async def test_console_opens_a_case_with_its_timeline_and_the_vessels_track(
    tmp_path: Path,
) -> None:
    """A boat seen by two agencies over a day: the picked distress report opens its case
    (alert, sighting and report in time order) and the map draws the vessel's track through
    every position the reader may see."""
    browser = chromium()
    case, mmsi = "ANDAMAN-2026-07", "533000123"
    countries = handling("countries", recipient_countries=["MY"])
    async with newcomer(tmp_path) as rig:
        vessel = {**ALERT_EXAMPLE["vessels"][0], "mmsi": mmsi}
        alert_doc = alert_body(
            headline=HEADLINE,
            case_id=case,
            vessels=[vessel],
            observed_at=_ago(20),
            location={"lat": 8.2, "lon": 96.4},
            handling=countries,
        )
        alert = await rig.created("/v1/alerts", alert_doc, "mecc-watch")
        seen = {"observed_at": _ago(9), "position": {"lat": 7.1, "lon": 96.9}, "source": "aircraft"}
        await rig.created(f"/v1/alerts/{alert['id']}/sightings", seen, "mecc-watch")
        position = {**DISTRESS_EXAMPLE["position"], "lat": 5.9, "lon": 97.1, "fix_time": _ago(1)}
        body = distress_body(
            coordinating_rcc=None, case_id=case, position=position, handling=countries
        )
        body["vessel"] = {**DISTRESS_EXAMPLE["vessel"], "mmsi": mmsi}
        report = await rig.created("/v1/distress-reports", body, "mecc-watch")
        token = await rig.token("mmea-watch", scope="alerts:read distress:read")
        page = rig.api.url(f"/console#token={token}&select={report['id']}")

        dom = await asyncio.to_thread(browse, browser, tmp_path / "profile-1", "--dump-dom", page)
        tree = lxml.html.fromstring(dom)
        assert texts(tree, '//*[@id="error"]') == [""]
        assert texts(tree, '//*[@id="case-title"]') == [f"Case {case}"]
        events = texts(tree, '//*[@id="case-events"]/li')
        assert [event.split(" · ")[0][17:] for event in events] == [
            "alert v1",
            "sighting",
            "distress v1",
        ]
        assert texts(tree, '//*[@id="case-vessel"]') == [f"Track of mmsi:{mmsi}"]
        [track] = tree.xpath('//*[@id="map"]//*[local-name()="polyline"]/@points')
        assert len(track.split()) == 3  # the alert, the sighting, the distress fix

        screenshot = tmp_path / "console-case.png"
        await asyncio.to_thread(
            browse,
            browser,
            tmp_path / "profile-2",
            f"--screenshot={screenshot}",
            f"--window-size={WIDTH},{HEIGHT}",
            page,
        )
        assert png_size(screenshot) == (WIDTH, HEIGHT)
        assert screenshot.stat().st_size > 60_000
