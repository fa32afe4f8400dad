"""The back office's Media page: the images one may use, their alt text and focal point,
and uploads (from the page's form, and from the article editor's picker).

An upload is parsed by Starlette, which spools the file to disk past 1 MiB; its route
accepts bodies up to the media cap (``CMS_MEDIA_MAX_UPLOAD_BYTES``) where every other
back-office route keeps the form cap. The editor's script sends the CSRF token as a
header, so the body streams to the parser instead of through the CSRF check's buffer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from anyio import to_thread
from sqladmin.authentication import login_required
from sqladmin.flash import Flash
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, request_response
from starlette.types import ASGIApp

from admin.auth import UNAVAILABLE, admin_origin, current_user
from cms import permissions
from cms.changes import UNSET, Unset
from cms.db import Database, UnitOfWork
from cms.errors import Busy, DomainError
from cms.media import actions, service
from cms.media.library import MediaLibrary
from cms.media.projection import from_asset
from cms.users.models import User

if TYPE_CHECKING:
    from admin.pages import Pages

T = TypeVar("T")
MEDIA_PAGE = 60
# Room for the form's other fields and the multipart framing around the file.
MULTIPART_OVERHEAD = 64 * 1024


class MediaPages:
    def __init__(self, pages: Pages, database: Database, library: MediaLibrary) -> None:
        self.pages = pages
        self.database = database
        self.library = library
        self._admin_ref = pages.admin  # login_required looks for it on the endpoint's owner

    def routes(self) -> list[Route]:
        upload: ASGIApp = RequestBodyLimitMiddleware(
            request_response(self.upload),
            max_body_size=self.library.max_upload_bytes + MULTIPART_OVERHEAD,
        )
        return [
            Route("/media", self.page, methods=["GET"], name="media"),
            Route("/media/upload", upload, methods=["POST"], name="media-upload"),
            Route("/media/{pk:int}", self.update, methods=["POST"], name="media-update"),
            Route("/media/{pk:int}/delete", self.delete, methods=["POST"], name="media-delete"),
        ]

    @login_required
    async def page(self, request: Request) -> Response:
        viewer = current_user(request)

        def load() -> tuple[list[dict[str, Any]], dict[int, list[tuple[int, str]]]]:
            with self.database.reading() as session:
                assets = service.list_media(session, viewer=viewer, limit=MEDIA_PAGE)
                ids = [asset.id for asset in assets]
                return [from_asset(asset) for asset in assets], service.covers_of(
                    session, viewer=viewer, asset_ids=ids
                )

        assets, used = await to_thread.run_sync(load)
        return await self.pages.render(request, "cms/media.html", {"assets": assets, "used": used})

    @login_required
    async def upload(self, request: Request) -> Response:
        wants_json = "application/json" in request.headers.get("accept", "")
        try:
            form = await request.form()
        except MultiPartException as exc:
            return self._refused(request, str(exc), wants_json, 400)
        try:
            file = form.get("file")
            if not isinstance(file, UploadFile):
                return self._refused(request, "Choose an image to upload.", wants_json, 422)
            alt = str(form.get("alt") or "")
            upload = actions.UploadMedia(library=self.library, file=file.file, alt=alt)
            with upload:
                asset = await self._run(request, upload)
            shaped = from_asset(asset)
        except DomainError as exc:
            status = 503 if isinstance(exc, Busy) else 422
            return self._refused(request, exc.message, wants_json, status)
        finally:
            await form.close()
        if wants_json:
            return JSONResponse(shaped, status_code=201)
        Flash.success(request, "Uploaded the image.")
        return RedirectResponse(request.url_for("admin:media"), status_code=303)

    @login_required
    async def update(self, request: Request) -> Response:
        form = await request.form()
        pk = int(request.path_params["pk"])
        action = actions.UpdateMedia(
            asset_id=pk,
            alt=str(form.get("alt") or ""),
            focal_point=_focal_point(form.get("focal_x"), form.get("focal_y")),
        )
        try:
            await self._run(request, action)
            Flash.success(request, "Saved the image's description.")
        except DomainError as exc:
            Flash.error(request, exc.message)
        return RedirectResponse(request.url_for("admin:media"), status_code=303)

    @login_required
    async def delete(self, request: Request) -> Response:
        pk = int(request.path_params["pk"])
        try:
            await self._run(request, actions.DeleteMedia(library=self.library, asset_id=pk))
            Flash.success(request, "Deleted the image.")
        except DomainError as exc:
            Flash.error(request, exc.message)
        return RedirectResponse(request.url_for("admin:media"), status_code=303)

    async def _run(self, request: Request, work: Callable[[UnitOfWork], T]) -> T:
        user = current_user(request)
        if user is None:
            raise HTTPException(403)
        actor_id, origin = user.id, admin_origin(request)

        def load_actor(session: Session) -> User:
            actor = session.get(User, actor_id)
            if actor is None or not permissions.can_use_back_office(actor):
                raise DomainError("Your account can no longer use the back office")
            return actor

        def in_transaction() -> T:
            try:
                return self.database.run(work, actor=load_actor, origin=origin)
            except OperationalError as exc:
                raise DomainError(UNAVAILABLE) from exc

        return await to_thread.run_sync(in_transaction)

    def _refused(self, request: Request, message: str, wants_json: bool, status: int) -> Response:
        if wants_json:
            headers = {"Retry-After": "2"} if status == 503 else None
            return JSONResponse({"detail": message}, status_code=status, headers=headers)
        Flash.error(request, message)
        return RedirectResponse(request.url_for("admin:media"), status_code=303)


def _focal_point(x: object, y: object) -> tuple[float, float] | Unset:
    if x in (None, "") or y in (None, ""):
        return UNSET
    try:
        return (float(str(x)), float(str(y)))
    except ValueError:
        return (-1.0, -1.0)  # refused by the action with its own message
