"""The REST API application: routers, health checks, middleware and error handlers.

The back office is mounted on it by the composition root, :mod:`cms.asgi`; nothing else
in this package imports ``admin`` (``admin`` depends on ``cms``, not the reverse).
"""

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cms import __version__, bulk, errors, metrics, migrations
from cms.accounts.router import router as accounts_router
from cms.api_docs import install_api_docs
from cms.articles.router import router as articles_router
from cms.articles.router import tags_router, trash_router
from cms.auth.router import router as auth_router
from cms.config import Settings, get_settings
from cms.db import Database, is_cancelled, is_statement_timeout
from cms.feeds.router import router as feeds_router
from cms.media.library import MediaLibrary
from cms.media.router import build_router as build_media_router
from cms.middleware import (
    APICorsMiddleware,
    CancelOnDisconnect,
    ReadRouting,
    RelativeRedirectsMiddleware,
    RequestContextMiddleware,
)
from cms.observability import RequestObserver
from cms.openapi import allowed_methods, install_exact_openapi
from cms.previews.page import router as preview_page_router
from cms.previews.router import router as previews_router
from cms.site.identity import SiteIdentity
from cms.site.router import is_site_path, wants_a_page
from cms.site.router import not_found as site_not_found
from cms.site.router import router as site_router
from cms.site.router import unavailable as site_unavailable
from cms.site.theme import Theme
from cms.site.urls import SiteAddresses
from cms.users.router import router as users_router
from cms.webhooks.router import router as webhooks_router

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 8 * 1024 * 1024

_STATUS_FOR_ERROR: dict[type[errors.DomainError], int] = {
    errors.NotFound: status.HTTP_404_NOT_FOUND,
    errors.PermissionDenied: status.HTTP_403_FORBIDDEN,
    errors.Conflict: status.HTTP_409_CONFLICT,
    errors.NotAuthenticated: status.HTTP_401_UNAUTHORIZED,
    errors.PreconditionFailed: status.HTTP_412_PRECONDITION_FAILED,
    errors.AuthenticationFailed: status.HTTP_401_UNAUTHORIZED,
    errors.UnsupportedMediaType: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    errors.TooLarge: status.HTTP_413_CONTENT_TOO_LARGE,
    errors.LinkNoLongerWorks: status.HTTP_400_BAD_REQUEST,
}


class ASCIIJSONResponse(JSONResponse):
    def render(self, content: object) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API for ``settings`` (default: from the environment), without the back office."""
    settings = settings or get_settings()
    database = Database(
        settings.database_url,
        echo=settings.sql_echo,
        limits=settings.write_limits,
        read_time_limit=settings.read_statement_timeout,
        replica_urls=settings.database_replica_urls,
        replica_max_lag=settings.replica_max_lag_seconds,
        consistency_wait=settings.consistency_wait_seconds,
        replica_check_interval=settings.replica_check_seconds,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with metrics.watching_pool(database):
            yield
        database.dispose()

    app = FastAPI(
        title="CMS",
        version=__version__,
        description="Articles and users of an admin-backed CMS. Back office at /admin.",
        lifespan=lifespan,
        # /docs is served from this installation by cms.api_docs; no ReDoc.
        docs_url=None,
        redoc_url=None,
        # Room for a 1 MiB article body even when JSON escaping inflates it; beyond: 413.
        max_body_size=MAX_REQUEST_BYTES,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.media = MediaLibrary.from_settings(settings, database)
    app.state.site_addresses = SiteAddresses.from_settings(settings)
    app.state.site_identity = SiteIdentity.from_settings(settings)
    # The site's templates, compiled once for the life of the process.
    app.state.site_theme = Theme(settings)
    # Paths that need another Content-Security-Policy than the API's (the docs and the
    # back office add their own).
    app.state.content_security_policies = []
    # Innermost: a read's statements stop when its client leaves.
    app.add_middleware(CancelOnDisconnect)
    if database.replicas is not None:
        # Which server the request's reads use; without replicas, nothing at all.
        app.add_middleware(ReadRouting, secret=settings.secret)
    if settings.cors_origins:
        app.add_middleware(APICorsMiddleware, origins=settings.cors_origins, excluded=("/admin",))
    # Inside the request context (its lines carry the request id), outside CORS (whose
    # preflight answers are requests too).
    app.add_middleware(RequestObserver)
    app.add_middleware(RelativeRedirectsMiddleware)
    app.add_middleware(
        RequestContextMiddleware,
        trusted_proxies=settings.trusted_proxies,
        csp_by_prefix=app.state.content_security_policies,
    )

    app.include_router(auth_router)
    app.include_router(accounts_router)
    app.include_router(users_router)
    app.include_router(articles_router)
    app.include_router(previews_router)
    app.include_router(tags_router)
    app.include_router(trash_router)
    app.include_router(webhooks_router)
    app.include_router(feeds_router)
    app.include_router(build_media_router(settings.media_max_upload_bytes))
    app.include_router(metrics.router)
    app.include_router(site_router)
    app.include_router(preview_page_router)
    _add_icon(app)
    install_exact_openapi(app)
    install_api_docs(app)
    _add_health_checks(app, database)
    _add_error_handlers(app)
    return app


FAVICON = resources.files("cms").joinpath("static/favicon.svg").read_bytes()


def _add_icon(app: FastAPI) -> None:
    # One icon for the site and the back office. Browsers ask for /favicon.ico whatever
    # a page names; an SVG served there is shown all the same.
    @app.get("/favicon.ico", include_in_schema=False, name="favicon")
    @app.get("/favicon.svg", include_in_schema=False)
    def favicon() -> Response:
        return Response(
            FAVICON,
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )


def _add_health_checks(app: FastAPI, database: Database) -> None:
    @app.get("/healthz", tags=["site"])
    def healthz() -> dict[str, str]:
        """200 while the process serves requests."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["site"], responses={503: {"description": "Not ready"}})
    def readyz() -> JSONResponse:
        """200 when the database answers and its schema is at the newest migration.

        With replicas, each one's state and lag are reported too; a replica that is down
        or behind is skipped by reads, and does not make this process unready."""
        try:
            with database.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            problem = migrations.schema_problem(database.engine)
        except DBAPIError:
            logger.exception("readiness check could not reach the database")
            problem = "database unreachable"
        replicas = {} if database.replicas is None else {"replicas": database.replicas.report()}
        if problem is not None:
            return JSONResponse(
                {"status": "unavailable", "detail": problem, **replicas}, status_code=503
            )
        return JSONResponse({"status": "ok", **replicas})


def _add_error_handlers(app: FastAPI) -> None:
    allow = allowed_methods(app)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == status.HTTP_404_NOT_FOUND and request.app.state.settings.site_pages:
            if wants_a_page(request):
                # A reader who mistypes an address gets the site's 404 page, not JSON.
                page = await site_not_found(request)
                page.headers["Vary"] = "Accept"
                return page
            exc.headers = {**(exc.headers or {}), "Vary": "Accept"}
        if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
            exc.headers = {**(exc.headers or {}), "Allow": allow(request.url.path)}
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's body, minus each error's "input": echoing it would send passwords and
        # megabyte bodies back to the client. ASCII-escaped so any input renders.
        errors_out = [
            {key: value for key, value in error.items() if key != "input"} for error in exc.errors()
        ]
        return ASCIIJSONResponse(
            {"detail": jsonable_encoder(errors_out)},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(errors.DomainError)
    async def domain_error(_request: Request, exc: errors.DomainError) -> JSONResponse:
        if isinstance(exc, errors.InvalidInput):
            return JSONResponse(
                {
                    "detail": [
                        {
                            "loc": [exc.location, exc.field],
                            "msg": exc.message,
                            "type": "value_error",
                        }
                    ]
                },
                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            )
        if isinstance(exc, errors.SlugMoved):
            return JSONResponse(
                {"detail": "This article has moved", "slug": exc.current_slug},
                status_code=status.HTTP_301_MOVED_PERMANENTLY,
                headers={"Location": f"/articles/slug/{exc.current_slug}"},
            )
        if isinstance(exc, errors.TooManyAttempts):
            return JSONResponse(
                {"detail": exc.message},
                status_code=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(exc.retry_after)},
            )
        if isinstance(exc, errors.Busy):
            return JSONResponse(
                {"detail": exc.message},
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": str(exc.retry_after)},
            )
        code = next(
            (code for kind, code in _STATUS_FOR_ERROR.items() if isinstance(exc, kind)),
            status.HTTP_400_BAD_REQUEST,
        )
        headers = {"WWW-Authenticate": "Bearer"} if code == status.HTTP_401_UNAUTHORIZED else None
        return JSONResponse({"detail": exc.message}, status_code=code, headers=headers)

    @app.exception_handler(StaleDataError)
    async def lost_race(_request: Request, _exc: StaleDataError) -> JSONResponse:
        return JSONResponse(
            {"detail": "Someone else changed this at the same time; reload and retry"},
            status_code=status.HTTP_409_CONFLICT,
        )

    @app.exception_handler(IntegrityError)
    async def integrity_error(_request: Request, exc: IntegrityError) -> JSONResponse:
        logger.warning("integrity error reached the API: %s", exc.orig)
        return JSONResponse(
            {"detail": "The change conflicts with existing data; reload and retry"},
            status_code=status.HTTP_409_CONFLICT,
        )

    @app.exception_handler(OperationalError)
    async def database_unavailable(request: Request, exc: OperationalError) -> Response:
        search_index_missing = bulk.is_missing_search_index(exc)
        timed_out = is_statement_timeout(exc)  # logged with its statement in cms.db
        if search_index_missing:
            # A bulk load dropped the FULLTEXT indexes and builds them when it ends.
            logger.warning("a search found no full-text index: a bulk load is running")
        elif is_cancelled(exc):
            # Its client left, and the statement was stopped for that (cms.db): an answer
            # nobody reads.
            logger.info("a read was stopped: its client went away")
        elif not timed_out:
            logger.error("database error: %s", exc.orig)
        if wants_a_page(request) and is_site_path(request.url.path):
            return site_unavailable(request)
        if search_index_missing:
            return JSONResponse(
                {"detail": "Search is unavailable while its index is being built; retry later"},
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": "60"},
            )
        if timed_out:
            return JSONResponse(
                {"detail": "This read took too long and was stopped; retry in a moment"},
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": "5"},
            )
        return JSONResponse(
            {"detail": "The database is busy or unavailable; retry in a few seconds"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, _exc: Exception) -> JSONResponse:
        # RequestObserver logs and answers errors raised below it; one raised above it
        # reaches this and then the server, which logs it.
        return JSONResponse(
            {"detail": "Internal server error"},
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
