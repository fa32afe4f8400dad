"""``/openapi.json`` that says exactly what the API answers.

FastAPI documents each operation's success and, when it has parameters, a 422. This
module adds what every route shares, derived from the route itself, so a new route is
documented correctly without anyone remembering to:

- a 401 where a token is read (a malformed, expired or revoked one is refused even on
  public reads), a 503 where the database is used, a 413 where a body is accepted;
- the error body (``{"detail": "…"}``) and ``Retry-After`` on every error answer;
- a token as optional on the operations that also serve anonymous callers (Swagger UI
  shows no lock on public reads).

What depends on the rules of one operation (403, 404, 409, 412, 429) is declared on the
route with :func:`answers`. The fuzz tests (``tests/test_fuzz.py``) fail when the API
answers anything this document does not declare.
"""

import re
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel
from starlette.routing import compile_path

from cms.deps import get_credentials, get_database, get_signed_in_viewer, get_writer

BEARER = "OAuth2PasswordBearer"


class ErrorMessage(BaseModel):
    """What every error answer but a 422 carries."""

    detail: str


DESCRIPTIONS: dict[int, str] = {
    301: "The article's slug changed: Location and `slug` give the current one",
    304: "Not modified: the ETag sent in If-None-Match is current",
    400: "The body cannot be read: not UTF-8, or not the declared content type",
    401: "No valid token: none where one is needed, or one that is malformed, expired or "
    "revoked (signed out, password changed, deactivated)",
    403: "Signed in, but not allowed to do this",
    404: "No such object, or none the caller may see",
    409: "Clashes with the current state (a taken email or slug, a lost race)",
    412: "If-Match names an earlier version: someone changed it since; nothing changed",
    413: "The request body is larger than the API accepts (8 MiB)",
    429: "Too many attempts or writes from this client or account: retry after Retry-After seconds",
    503: "The database is unavailable or busy: retry after Retry-After seconds",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}


def answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=`` for the error statuses its own rules can produce."""
    return {code: {"description": DESCRIPTIONS[code], "model": ErrorMessage} for code in codes}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _shared_answers(route: RouteContext) -> tuple[set[int], bool]:
    """Statuses the route answers because of what it uses, and whether it needs a token."""
    calls = set(_calls(route.dependant))
    codes = set()
    if get_credentials in calls:
        codes.add(401)
    if get_database in calls:
        codes.add(503)
    if route.body_field is not None:
        codes.update((400, 413))
    if get_writer in calls:
        codes.add(409)  # besides a route's own conflicts: a write that lost a race
        codes.add(429)  # a signed-in account past its write rate
    needs_token = get_signed_in_viewer in calls or get_writer in calls
    return codes, needs_token


def _complete(schema: dict[str, Any], routes: list[RouteContext]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorMessage"] = ErrorMessage.model_json_schema()
    error_ref = {"$ref": "#/components/schemas/ErrorMessage"}
    # The API never echoes a field's input back (it may be a password or a megabyte).
    if "ValidationError" in components:
        components["ValidationError"]["properties"].pop("input", None)

    for route in routes:
        path = schema["paths"].get(route.path_format)
        if path is None:  # not in the schema
            continue
        shared, needs_token = _shared_answers(route)
        for method in route.methods or ():
            operation = path[method.lower()]
            responses = operation["responses"]
            for code in shared:
                responses.setdefault(str(code), {"description": DESCRIPTIONS[code]})
            for code, response in responses.items():
                if not code.isdigit() or int(code) < 400 or int(code) == 422:
                    continue
                response.setdefault("content", {"application/json": {"schema": error_ref}})
                if int(code) in (429, 503):
                    response.setdefault("headers", {}).update(RETRY_AFTER)
            security = operation.get("security")
            if security and (not needs_token or {} in security):
                # A token is optional here: anonymous callers are served too (a route
                # that writes without one says so with openapi_extra={"security": [{}]}).
                operation["security"] = [{}, *(kind for kind in security if kind != {})]


def allowed_methods(app: FastAPI) -> Callable[[str], str]:
    """For a 405: every method some route serves at a path, where Starlette names only
    those of the first route whose path matched (``GET`` for ``POST /articles/``'s path)."""
    table: list[tuple[re.Pattern[str], set[str]]] = []

    def allow(path: str) -> str:
        if not table:
            for route in iter_route_contexts(app.routes):
                if route.path is not None and route.methods:
                    table.append((compile_path(route.path)[0], set(route.methods)))
        methods = set().union(*(methods for regex, methods in table if regex.match(path)))
        return ", ".join(sorted(methods))

    return allow


def install_exact_openapi(app: FastAPI) -> None:
    """Serve the completed document at ``app.openapi_url``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            # Each route as included: its router's prefix and dependencies applied.
            routes = [
                route
                for route in iter_route_contexts(app.routes)
                if isinstance(route.original_route, APIRoute) and route.include_in_schema
            ]
            _complete(schema, routes)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
