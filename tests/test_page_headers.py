"""What a reader's browser receives from the app's own pages: the console never without its
Content-Security-Policy, the docs pages never framed by another site."""

import httpx
import pytest

from api.console import POLICY


def _directives(policy: str) -> dict[str, str]:
    parts = (part.strip().split(None, 1) for part in policy.split(";") if part.strip())
    return {part[0].lower(): (part[1] if len(part) > 1 else "") for part in parts}


async def test_the_console_page_is_never_served_without_its_policy(
    client: httpx.AsyncClient,
) -> None:
    """`/console` sends a strict CSP (scripts from this origin only, no framing); the very same
    page and scripts are also served by the static mount at `/static/console/console.html`,
    which once sent no policy at all: a page on any site could frame it."""
    guarded = await client.get("/console")
    assert guarded.status_code == 200
    assert guarded.headers["content-security-policy"] == POLICY
    copy = await client.get("/static/console/console.html")
    if copy.status_code == 404:
        return  # the page is served only where its policy is
    assert copy.status_code == 200
    assert copy.headers.get("content-security-policy") == POLICY, (
        "/static/console/console.html is the console without its Content-Security-Policy: "
        f"headers {dict(copy.headers)}"
    )


@pytest.mark.parametrize("path", ["/docs", "/docs/oauth2-redirect", "/redoc"])
async def test_the_docs_console_cannot_be_framed_by_another_site(
    client: httpx.AsyncClient, path: str
) -> None:
    """Duty officers use `/docs` as their console (DESIGN.md): they authorize there and press
    Execute, which writes. It was sent with no Content-Security-Policy and no X-Frame-Options,
    so any site could frame it (clickjacking). Its scripts are not restricted (DECISIONS.md,
    "The duty console")."""
    page = await client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = _directives(page.headers.get("content-security-policy", ""))
    framing = policy.get("frame-ancestors")
    legacy = page.headers.get("x-frame-options", "").upper()
    assert framing in ("'none'", "'self'") or legacy in ("DENY", "SAMEORIGIN"), (
        f"{path} may be framed by any site: headers {dict(page.headers)}"
    )
