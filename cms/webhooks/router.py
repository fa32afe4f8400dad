"""``/webhooks/``: managing webhook endpoints over the API (admins, or a key with
``webhooks:manage``). Deliveries themselves go out from the dispatcher."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from cms.db import UnitOfWork
from cms.deps import SettingsDep, WriterDep, get_credentials
from cms.openapi import answers
from cms.schemas import ObjectId
from cms.webhooks import service
from cms.webhooks.models import WebhookEndpoint
from cms.webhooks.schemas import EndpointCreate, EndpointCreated, EndpointPublic, PingQueued

router = APIRouter(prefix="/webhooks", tags=["webhooks"], dependencies=[Depends(get_credentials)])


def _public(endpoint: WebhookEndpoint) -> EndpointPublic:
    return EndpointPublic(
        id=endpoint.id,
        url=endpoint.url,
        events=service.subscribed_events(endpoint),
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        created_at=endpoint.created_at,
    )


@router.get("/", response_model=list[EndpointPublic], responses=answers(403))
def list_endpoints(writer: WriterDep) -> list[EndpointPublic]:
    """Every endpoint (never a secret)."""

    def listed(uow: UnitOfWork) -> list[EndpointPublic]:
        return [_public(e) for e in service.list_endpoints(uow.session, uow.actor)]

    return writer.run(service.Managing(listed))


@router.post(
    "/",
    status_code=status.HTTP_201_CREATED,
    response_model=EndpointCreated,
    responses=answers(403),
)
def add_endpoint(
    payload: EndpointCreate, writer: WriterDep, settings: SettingsDep, response: Response
) -> EndpointCreated:
    """Add an endpoint; the answer carries its ``whsec_`` secret, this once only."""
    added = writer.run(
        service.AddEndpoint(
            url=payload.url,
            events=tuple(event.value for event in payload.events),
            site_key=settings.secret,
            allow_private=settings.webhooks_allow_private_targets,
        )
    )
    response.headers["Location"] = f"/webhooks/{added.endpoint.id}"
    response.headers["Cache-Control"] = "no-store"
    return EndpointCreated(**_public(added.endpoint).model_dump(), secret=added.secret)


@router.delete(
    "/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT, responses=answers(403, 404)
)
def remove_endpoint(endpoint_id: ObjectId, writer: WriterDep) -> Response:
    """Remove an endpoint with its deliveries."""
    writer.run(service.RemoveEndpoint(endpoint_id=endpoint_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{endpoint_id}/ping",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PingQueued,
    responses=answers(403, 404),
)
def ping_endpoint(endpoint_id: ObjectId, writer: WriterDep) -> PingQueued:
    """Queue a ``ping`` event for one endpoint."""
    return PingQueued(event_id=writer.run(service.SendPing(endpoint_id=endpoint_id)))
