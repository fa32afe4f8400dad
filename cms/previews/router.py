"""``/articles/{id}/previews``: sharing, listing and revoking preview links over the API
(the article's author, or staff). Opening a preview is ``GET /articles/{id}`` with the
token (:mod:`cms.articles.router`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response, status

from cms.db import utcnow
from cms.deps import ReadSession, SettingsDep, SignedInViewer, WriterDep, get_credentials
from cms.openapi import answers
from cms.previews import actions, service
from cms.previews.models import PreviewLink
from cms.previews.schemas import PreviewCreate, PreviewPublic, PreviewShared
from cms.schemas import ObjectId
from cms.site.urls import SiteAddresses

router = APIRouter(tags=["previews"], dependencies=[Depends(get_credentials)])
NO_STORE = "private, no-store"


def _public(link: PreviewLink) -> PreviewPublic:
    return PreviewPublic(
        id=link.id,
        article_id=link.article_id,
        created_at=link.created_at,
        created_by=link.created_by_name,
        created_by_id=link.created_by_id,
        expires_at=link.expires_at,
    )


@router.post(
    "/articles/{article_id:int}/previews",
    status_code=status.HTTP_201_CREATED,
    response_model=PreviewShared,
    responses=answers(403, 404, 409),
)
def share_preview(
    article_id: ObjectId,
    writer: WriterDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
    payload: Annotated[PreviewCreate | None, Body()] = None,
) -> PreviewShared:
    """A preview link for a draft or scheduled article (default: 7 days, at most 30).
    The answer carries its token and address, this once only."""
    expires_in = (payload or PreviewCreate()).expires_in
    shared = writer.run(
        actions.SharePreview(
            article_id=article_id,
            expires_in=timedelta(seconds=expires_in),
            site_key=settings.secret,
        )
    )
    addresses: SiteAddresses = request.app.state.site_addresses
    response.headers["Location"] = f"/articles/{article_id}/previews/{shared.link.id}"
    response.headers["Cache-Control"] = NO_STORE
    return PreviewShared(
        **_public(shared.link).model_dump(),
        token=shared.token,
        url=addresses.preview_url(shared.token, shared.slug),
    )


@router.get(
    "/articles/{article_id:int}/previews",
    response_model=list[PreviewPublic],
    responses=answers(403, 404),
)
def list_previews(
    article_id: ObjectId, session: ReadSession, viewer: SignedInViewer, response: Response
) -> list[PreviewPublic]:
    """The article's links that still work (neither expired nor revoked), newest first."""
    links = service.active_links(session, viewer=viewer, article_id=article_id, now=utcnow())
    response.headers["Cache-Control"] = NO_STORE
    return [_public(link) for link in links]


@router.delete(
    "/articles/{article_id:int}/previews/{link_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=answers(403, 404),
)
def revoke_preview(article_id: ObjectId, link_id: ObjectId, writer: WriterDep) -> Response:
    """End a preview link at once."""
    writer.run(actions.RevokePreview(link_id=link_id, article_id=article_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
