"""Text search: every word of `q` matches, whatever its case, accents or apostrophes."""

import importlib.util
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.enums import Role
from services.records.search import normalise, words
from tests.support import Network, alert_body, distress_body


async def _ids(network: Network, url: str, params: dict[str, str]) -> list[str]:
    headers = await network.headers(Role.VIEWER, "MY-MMEA")
    response = await network.http.get(url, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [doc["id"] for doc in response.json()["items"]]


async def _post(network: Network, path: str, body: dict[str, Any]) -> str:
    headers = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    response = await network.http.post(f"/v1/{path}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _alert(headline: str, **changes: Any) -> dict[str, Any]:
    blank: dict[str, Any] = {"description": None, "place_name": None, "sea_area": None}
    return alert_body(**{**blank, "vessels": [], "headline": headline, **changes})


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("Shamlapur, Teknaf, Cox's Bazar.", "shamlapur teknaf coxs bazar"),
        ("Hà Tiên; Đà Nẵng", "ha tien da nang"),
        ("COX’S (Bazar)", "coxs bazar"),
        ("Straße BDCG-2026-07 100% x_y", "strasse bdcg-2026-07 100% x_y"),
        # other scripts keep their vowel signs (in their decomposed form)
        ("নৌকা ঘাট", unicodedata.normalize("NFKD", "নৌকা ঘাট")),
    ],
)
def test_normal_form(text: str, form: str) -> None:
    assert normalise(text) == form


@cache
def _stored_form() -> Any:
    """The normal form the migration wrote into every record stored before it: a record
    stored since must be found by the same words."""
    versions = Path(__file__).resolve().parent.parent / "migrations" / "versions"
    path = next(versions.glob("*_search_and_position_time.py"))
    spec = importlib.util.spec_from_file_location("search_migration", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._normalise


# What the normal form treats specially, with letters, digits and any other character; most
# text is ASCII, which takes a path of its own.
_ASCII = " \t\n\x1c.:,;!?()[]{}<>\"'`aZ9-_%/"
_OTHER = "\u00a0\u2003\u00b4\u2018\u2019\u02bc\u02bb\u201c\u201d\u00ab\u00bb\u3001\u3002đŉßÉ\u0301"
_TEXT = st.text(st.sampled_from(_ASCII) | st.characters(max_codepoint=127)) | st.text(
    st.sampled_from(_ASCII + _OTHER) | st.characters()
)


@given(_TEXT)
def test_normal_form_is_the_form_records_were_stored_in(text: str) -> None:
    assert normalise(text) == _stored_form()(text)


def test_query_words_are_distinct() -> None:
    assert words("Teknaf teknaf TEKNAF, trawler") == ["teknaf", "trawler"]


async def test_every_word_must_match(network: Network) -> None:
    both = await _post(network, "alerts", _alert("Trawler leaving Teknaf at night"))
    one = await _post(network, "alerts", _alert("Trawler seen off Langkawi"))
    assert await _ids(network, "/v1/alerts", {"q": "teknaf trawler"}) == [both]
    assert await _ids(network, "/v1/alerts", {"q": "trawler"}) == [one, both]
    assert await _ids(network, "/v1/alerts", {"q": "trawler teknaf langkawi"}) == []


async def test_case_accents_and_apostrophes_are_ignored(network: Network) -> None:
    cox = await _post(network, "alerts", _alert("Departure", place_name="Cox's Bazar"))
    accented = await _post(network, "alerts", _alert("Landing at Hà Tiên"))
    plain = await _post(network, "alerts", _alert("Boats at HA TIEN pier"))
    for q in ("cox bazar", "COXS", "Cox’s Bazar", "coxs"):
        assert await _ids(network, "/v1/alerts", {"q": q}) == [cox], q
    for q in ("ha tien", "Hà Tiên", "HÀ TIÊN", "hà tien"):
        assert await _ids(network, "/v1/alerts", {"q": q}) == [plain, accented], q


async def test_distress_reports_and_maps_search_alike(network: Network) -> None:
    vessel = {"name": "Nẵng Star", "vessel_type": "wooden boat"}
    report = await _post(network, "distress-reports", distress_body(vessel=vessel))
    await _post(network, "distress-reports", distress_body())
    assert await _ids(network, "/v1/distress-reports", {"q": "nang star"}) == [report]
    headers = await network.headers(Role.VIEWER, "MY-MMEA")
    response = await network.http.get(
        "/v1/geo/distress-reports", params={"q": "NANG"}, headers=headers
    )
    assert [feature["id"] for feature in response.json()["features"]] == [report]


async def test_percent_and_underscore_are_matched_as_themselves(network: Network) -> None:
    full = await _post(network, "alerts", _alert("Boat loaded 100% over capacity"))
    await _post(network, "alerts", _alert("1000 persons at Langkawi"))
    tagged = await _post(network, "alerts", _alert("Pier_7 gathering"))
    assert await _ids(network, "/v1/alerts", {"q": "100%"}) == [full]
    assert await _ids(network, "/v1/alerts", {"q": "LANGKAW_"}) == []
    assert await _ids(network, "/v1/alerts", {"q": "10%0"}) == []
    assert await _ids(network, "/v1/alerts", {"q": "pier_7"}) == [tagged]
    assert await _ids(network, "/v1/alerts", {"q": "pier/7"}) == []


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("x" * 201, "200"),
        (" ".join(f"w{n}" for n in range(9)), "at most 8 words"),
        (" , ;  ", "needs a word"),
        ("", "at least 1"),
    ],
    ids=["too long", "too many words", "no word", "empty"],
)
async def test_bad_q_is_422_naming_it(network: Network, q: str, message: str) -> None:
    headers = await network.headers(Role.VIEWER, "MY-MMEA")
    for path in ("/v1/alerts", "/v1/geo/alerts"):
        response = await network.http.get(path, params={"q": q}, headers=headers)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        errors = response.json()["errors"]
        assert [error["field"] for error in errors] == ["query.q"]
        assert message in errors[0]["message"]
