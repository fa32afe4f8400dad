"""The few HTTP requests the benchmark makes itself (discovery, checks, signing in), on
loopback only. The load itself is wrk's."""

import http.client
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

HOST = "127.0.0.1"
ADMIN_COOKIE = "cms_admin"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def fetch(
    port: int,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
    body: bytes | None = None,
    timeout: float = 60.0,
) -> Reply:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


def next_link(reply: Reply) -> str | None:
    """The path and query of the ``Link: <…>; rel="next"`` target, if the reply has one."""
    for value in reply.headers.get_all("link") or []:
        for part in value.split(","):
            match = re.match(r"\s*<([^>]*)>\s*;(.*)", part)
            if match and re.search(r'rel="?next"?', match.group(2)):
                target = urlsplit(match.group(1))
                return target.path + (f"?{target.query}" if target.query else "")
    return None


def _session_cookie(reply: Reply) -> str | None:
    """``name=value`` of the back office's session cookie (``__Host-`` prefixed in
    production), if the reply sets it."""
    for value in reply.headers.get_all("set-cookie") or []:
        name, _, cookie = value.split(";", 1)[0].partition("=")
        if name.strip().removeprefix("__Host-") == ADMIN_COOKIE:
            return f"{name.strip()}={cookie.strip()}"
    return None


def admin_sign_in(port: int, email: str, password: str) -> str:
    """Sign in to the back office as a browser does; the ``Cookie`` header value to send.

    The cookie is ``Secure`` in production; a browser would keep it off plain HTTP, but the
    server does not check the scheme, so loopback benchmarks can send it."""
    form_page = fetch(port, "/admin/login")
    session = _session_cookie(form_page)
    token = re.search(rb'name="csrf_token" value="([^"]+)"', form_page.body)
    if session is None or token is None:
        raise RuntimeError(
            f"/admin/login gave no session cookie or CSRF token ({form_page.status})"
        )
    form = urlencode({"username": email, "password": password, "csrf_token": token.group(1)})
    signed_in = fetch(
        port,
        "/admin/login",
        method="POST",
        body=form.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": session},
    )
    cookie = _session_cookie(signed_in)
    if signed_in.status != 302 or cookie is None:
        raise RuntimeError(f"signing in to /admin failed with {signed_in.status}")
    return cookie
