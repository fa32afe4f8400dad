"""The pages' Content-Security-Policy, as the tools that audit a site read it."""

from __future__ import annotations

import httpx


def _directives(policy: str) -> dict[str, list[str]]:
    found = {}
    for part in policy.split(";"):
        name, *values = part.split()
        found[name] = values
    return found


def test_a_page_may_fetch_its_own_robots_txt_but_runs_no_script(api: httpx.Client) -> None:
    # Lighthouse reads /robots.txt from inside the page; a CSP refusing it costs the
    # site its SEO score ("unable to download a robots.txt file").
    directives = _directives(api.get("/").headers["content-security-policy"])
    assert directives["connect-src"] == ["'self'"]
    assert directives["default-src"] == ["'none'"]
    assert "script-src" not in directives
