"""Every link the back office writes into a page is a path.

Starlette builds ``request.url`` and ``request.url_for(…)`` from the request's ``Host``
header, and SQLAdmin builds its links with them in templates and in Python alike (the
sidebar, each row's links, sort and filter links, pagination). A request sent with
``Host: evil.example`` would get a page whose links lead to ``http://evil.example/admin/…``:
a gift to cache poisoning and phishing. So every page is rendered with a
:class:`PathRequest` in place of the request, whose URLs have no scheme and no host,
and the pagination SQLAdmin built beforehand is turned into paths too. (Redirects are
made paths for the whole application by :class:`cms.middleware.RelativeRedirectsMiddleware`.)
"""

from functools import wraps
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqladmin import Admin
from sqladmin.pagination import PageControl, Pagination
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import Response


class PathRequest(Request):
    """A request whose URLs are paths: links built from it never name a host."""

    @property
    def url(self) -> URL:
        # Without a Host header or a server, Starlette makes the URL a path (and escapes
        # a leading "//" that would otherwise read as a host).
        scope = {
            **self.scope,
            "headers": [(k, v) for k, v in self.scope["headers"] if k != b"host"],
            "server": None,
        }
        return URL(scope=scope)

    @property
    def base_url(self) -> URL:
        return URL(as_path(str(super().base_url)))

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        return URL(as_path(str(super().url_for(name, **path_params))))


def as_path(url: str) -> str:
    """``url`` without its scheme and host: the path, query and fragment."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if path.startswith("//"):
        path = "/%2F" + path[2:]
    return urlunsplit(("", "", path, parts.query, parts.fragment))


def render_with_paths(admin: Admin) -> None:
    """Render every back-office page with a :class:`PathRequest`."""
    templates = admin.templates
    render = templates.TemplateResponse

    @wraps(render)
    async def template_response(
        request: Request, name: str, context: dict[str, Any] | None = None, **kwargs: Any
    ) -> Response:
        context = dict(context or {})
        path_request = PathRequest(request.scope, request.receive)
        context["request"] = path_request
        pagination = context.get("pagination")
        if isinstance(pagination, Pagination):
            pagination.page_controls = [
                PageControl(number=control.number, url=as_path(control.url))
                for control in pagination.page_controls
            ]
        response: Response = await render(path_request, name, context, **kwargs)
        return response

    templates.TemplateResponse = template_response  # type: ignore[method-assign,assignment]
