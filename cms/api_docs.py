"""The interactive API documentation at ``/docs``, served entirely by this installation.

FastAPI's own page loads Swagger UI from a CDN (blank offline) and starts it with an
inline script. This one serves Swagger UI's files from the ``fastapi-swagger`` package
and its own start-up script from ``cms/static``, so ``/docs`` works without a network
and its Content-Security-Policy allows scripts and styles from this origin only.
"""

import base64
import hashlib
import html
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.docs import (
    get_swagger_ui_oauth2_redirect_html,
    swagger_ui_default_parameters,
)
from fastapi.responses import FileResponse, HTMLResponse

DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_URL = "/docs/assets"

DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _package_dir(package: str) -> Path:
    location = resources.files(package)
    if not isinstance(location, Path):
        raise RuntimeError(f"{package} must be installed as files, not in {location}")
    return location


def _assets() -> dict[str, tuple[Path, str]]:
    swagger_ui = _package_dir("fastapi_swagger.resources")
    own = _package_dir("cms") / "static"
    return {
        "swagger-ui-bundle.js": (swagger_ui / "swagger-ui-bundle.js", "text/javascript"),
        "swagger-ui.css": (swagger_ui / "swagger-ui.css", "text/css"),
        "favicon-32x32.png": (swagger_ui / "favicon-32x32.png", "image/png"),
        "swagger-ui-init.js": (own / "swagger-ui-init.js", "text/javascript"),
    }


def _inline_script_hashes(page: bytes) -> str:
    scripts = re.findall(rb"<script>(.*?)</script>", page, flags=re.DOTALL)
    if not scripts:
        raise RuntimeError("FastAPI's OAuth2 redirect page no longer has the expected script")
    return " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in scripts
    )


# Swagger UI opens this page only for OAuth2 flows that redirect (not our password flow).
# It is FastAPI's, with one inline script, allowed by its hash and nothing else.
OAUTH2_REDIRECT_CSP = (
    "default-src 'none'; "
    f"script-src {_inline_script_hashes(bytes(get_swagger_ui_oauth2_redirect_html().body))}; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script id="swagger-ui-settings" type="application/json">{settings}</script>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-ui-init.js"></script>
</body>
</html>
"""


def _script_safe_json(value: Any) -> str:
    """JSON that cannot close the ``<script>`` element it is embedded in."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def install_api_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs``, its OAuth2 redirect page and its files (create the
    app with ``docs_url=None`` so FastAPI's CDN-backed page is not there too)."""
    openapi_url = app.openapi_url
    if openapi_url is None:
        return
    assets = _assets()

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        settings = {
            "openapiUrl": root + openapi_url,
            "oauth2RedirectUrl": root + OAUTH2_REDIRECT_URL,
            "parameters": {**swagger_ui_default_parameters, **(app.swagger_ui_parameters or {})},
        }
        page = _PAGE.format(
            title=html.escape(f"{app.title} - Swagger UI"),
            assets=html.escape(root + ASSETS_URL),
            settings=_script_safe_json(settings),
        )
        return HTMLResponse(page)

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.api_route(ASSETS_URL + "/{name}", methods=["GET", "HEAD"], include_in_schema=False)
    def swagger_ui_asset(name: str) -> FileResponse:
        if name not in assets:
            raise HTTPException(status_code=404)
        path, media_type = assets[name]
        return FileResponse(path, media_type=media_type)

    app.state.content_security_policies.extend(
        [(DOCS_URL, DOCS_CSP), (OAUTH2_REDIRECT_URL, OAUTH2_REDIRECT_CSP)]
    )
