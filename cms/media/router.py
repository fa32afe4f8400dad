"""``/media/``: uploading images, describing them, and serving their renditions."""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile
from fastapi import status as http
from fastapi.responses import FileResponse, StreamingResponse
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from cms.changes import UNSET
from cms.deps import DatabaseDep, ReadSession, SignedInViewer, WriterDep, get_credentials
from cms.errors import NotFound
from cms.media import actions, service
from cms.media.fields import ALT_MAX_LENGTH
from cms.media.images import MIME_OF_EXTENSION, rendition_names
from cms.media.library import MediaLibrary
from cms.media.projection import FILES_PATH, source_format
from cms.media.schemas import MediaPublic, MediaUpdate
from cms.media.storage import rendition_key
from cms.openapi import DESCRIPTIONS, answers
from cms.schemas import ObjectId, Skip

IMMUTABLE = "public, max-age=31536000, immutable"
# Room for the form's other fields and the multipart framing around the file.
MULTIPART_OVERHEAD = 64 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 256 * 1024
KNOWN_SECONDS = 60
KNOWN_HASHES = 10_000


async def get_media_library(request: Request) -> MediaLibrary:
    library: MediaLibrary = request.app.state.media
    return library


MediaLibraryDep = Annotated[MediaLibrary, Depends(get_media_library)]


def build_router(max_upload_bytes: int) -> APIRouter:
    """The media routes; the upload accepts bodies up to ``max_upload_bytes`` (its own
    cap: every other route keeps the API's)."""
    router = APIRouter(tags=["media"], dependencies=[Depends(get_credentials)])
    # Renditions are public: no token is read for them.
    files = APIRouter(tags=["media"])
    # Which hashes some asset still names, and their type, for a minute: a rendition is
    # served without a database read while it is asked for often.
    known: dict[str, tuple[float, str]] = {}
    too_large = {
        "description": f"The file is larger than uploads may be "
        f"({max_upload_bytes / 2**20:.0f} MiB)",
    }

    @router.post(
        "/media/",
        status_code=http.HTTP_201_CREATED,
        response_model=MediaPublic,
        responses={
            201: {"headers": {"Location": {"schema": {"type": "string"}}}},
            413: too_large,
            415: {"description": "Not a JPEG, PNG, WebP or GIF (decided from the bytes)"},
            **answers(403),
        },
        max_body_size=max_upload_bytes + MULTIPART_OVERHEAD,
    )
    def upload_media(
        file: Annotated[UploadFile, File(description="A JPEG, PNG, WebP or GIF image")],
        writer: WriterDep,
        library: MediaLibraryDep,
        response: Response,
        alt: Annotated[str, Form(max_length=ALT_MAX_LENGTH)] = "",
    ) -> MediaPublic:
        """Upload an image. The type is read from the bytes; the renditions are made in
        the background and on their first request. 503 with ``Retry-After`` while the
        server decodes as many images as it allows at once."""
        with actions.UploadMedia(library=library, file=file.file, alt=alt) as upload:
            asset = writer.run(upload)
        response.headers["Location"] = f"/media/{asset.id}"
        return MediaPublic.build(asset)

    @router.get("/media/", response_model=list[MediaPublic], responses=answers())
    def list_media(
        session: ReadSession,
        viewer: SignedInViewer,
        skip: Skip = 0,
        limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 50,
    ) -> list[MediaPublic]:
        """The caller's uploads (staff: everyone's), newest first."""
        assets = service.list_media(session, viewer=viewer, skip=skip, limit=limit)
        return [MediaPublic.build(asset) for asset in assets]

    @router.get("/media/{asset_id:int}", response_model=MediaPublic, responses=answers(404))
    def read_media(asset_id: ObjectId, session: ReadSession, viewer: SignedInViewer) -> MediaPublic:
        """One asset: for its uploader and staff."""
        return MediaPublic.build(service.get_media(session, viewer=viewer, asset_id=asset_id))

    @router.patch("/media/{asset_id:int}", response_model=MediaPublic, responses=answers(404))
    def update_media(asset_id: ObjectId, payload: MediaUpdate, writer: WriterDep) -> MediaPublic:
        """Change the alt text or the focal point."""
        given = payload.model_dump(exclude_unset=True)
        focal = payload.focal_point
        action = actions.UpdateMedia(
            asset_id=asset_id,
            alt=payload.alt if "alt" in given and payload.alt is not None else UNSET,
            focal_point=(focal.x, focal.y) if focal is not None else UNSET,
        )
        return MediaPublic.build(writer.run(action))

    @router.delete(
        "/media/{asset_id:int}", status_code=http.HTTP_204_NO_CONTENT, responses=answers(404)
    )
    def delete_media(asset_id: ObjectId, writer: WriterDep, library: MediaLibraryDep) -> None:
        """Delete the asset; its bytes go once no other asset has the same ones."""
        writer.run(actions.DeleteMedia(library=library, asset_id=asset_id))

    @files.get(
        FILES_PATH + "/{sha256}/{filename}",
        response_class=Response,
        responses={
            200: {
                "content": {mime: {} for mime in sorted(set(MIME_OF_EXTENSION.values()))},
                "headers": {"ETag": {"schema": {"type": "string"}}},
            },
            304: {"description": DESCRIPTIONS[304]},
            **answers(404),
        },
    )
    async def read_rendition(
        sha256: Annotated[str, Path(description="The content hash (SHA-256, hex)")],
        filename: Annotated[str, Path(description="A rendition's name, e.g. 400.webp")],
        request: Request,
        database: DatabaseDep,
        library: MediaLibraryDep,
    ) -> Response:
        """A rendition's bytes. The address carries the content hash, so it is cached for
        good; a rendition not made yet is made now (503 with ``Retry-After`` when the
        server is busy decoding)."""
        if _SHA256.fullmatch(sha256) is None:
            raise NotFound("No such file")
        now = time.monotonic()
        mime = None
        if sha256 in known and known[sha256][0] > now:
            mime = known[sha256][1]
        else:

            def read(connection: Connection) -> str | None:
                return service.stored_mime(connection, sha256)

            mime = await run_in_threadpool(database.read, read)
            if mime is not None:
                if len(known) > KNOWN_HASHES:
                    known.clear()
                known[sha256] = (now + KNOWN_SECONDS, mime)
        if mime is None or filename not in rendition_names(source_format(mime)):
            raise NotFound("No such file")
        headers = {
            "Cache-Control": IMMUTABLE,
            "ETag": f'"{sha256[:32]}-{filename}"',
            "X-Content-Type-Options": "nosniff",
        }
        if request.headers.get("if-none-match") in (headers["ETag"], f"W/{headers['ETag']}"):
            return Response(status_code=http.HTTP_304_NOT_MODIFIED, headers=headers)
        key = rendition_key(sha256, filename)
        media_type = MIME_OF_EXTENSION[filename.rsplit(".", 1)[1]]
        path = library.storage.local_path(key)
        if path is None or not path.is_file():
            try:
                await run_in_threadpool(
                    library.ensure_rendition,
                    sha256=sha256,
                    source_format=source_format(mime),
                    filename=filename,
                )
            except FileNotFoundError:  # its bytes were deleted since it was looked up
                known.pop(sha256, None)
                raise NotFound("No such file") from None
        if path is not None:
            return FileResponse(path, media_type=media_type, headers=headers)
        return StreamingResponse(_chunks(library, key), media_type=media_type, headers=headers)

    parent = APIRouter()
    parent.include_router(router)
    parent.include_router(files)
    return parent


def _chunks(library: MediaLibrary, key: str) -> Any:
    with library.storage.open(key) as file:
        while chunk := file.read(_CHUNK):
            yield chunk
