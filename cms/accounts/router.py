"""``POST /auth/password-reset`` and ``POST /auth/password-reset/confirm``."""

from fastapi import APIRouter, Request, Response, status

from cms.accounts import service
from cms.accounts.schemas import PasswordResetAccepted, PasswordResetConfirm, PasswordResetRequest
from cms.auth.service import count_attempt, password_reset_limits
from cms.config import Settings
from cms.deps import DatabaseDep, OriginDep, SettingsDep
from cms.openapi import answers

router = APIRouter(tags=["auth"])

RESET_ACCEPTED = (
    "If an account has this address, a link to choose a new password is on its way to it."
)


def link_base(settings: Settings, request: Request) -> str:
    """The address links in mail start with: CMS_SITE_URL, else this request's own
    (development; production with SMTP requires CMS_SITE_URL)."""
    return (settings.site_url or str(request.base_url)).rstrip("/")


@router.post(
    "/auth/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PasswordResetAccepted,
    responses=answers(429),
)
def request_password_reset(
    body: PasswordResetRequest,
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    origin: OriginDep,
) -> PasswordResetAccepted:
    """Send a reset link to the address if it has an account. The answer, and its time,
    are the same either way; limited per address and per client (429)."""
    count_attempt(database, password_reset_limits(settings, body.email, origin.address), origin)
    database.run(
        service.RequestPasswordReset(email=body.email, base=link_base(settings, request)),
        origin=origin,
    )
    return PasswordResetAccepted(detail=RESET_ACCEPTED)


@router.post(
    "/auth/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
)
def confirm_password_reset(
    body: PasswordResetConfirm, database: DatabaseDep, settings: SettingsDep, origin: OriginDep
) -> Response:
    """Set a new password with the token from a reset link; every session and token of
    the account ends. A token that was used, expired, or was superseded by a newer link
    or a password change is a 422 naming ``token``."""
    action = service.ResetPassword(
        token=body.token, password=body.password, secret_key=settings.secret
    )
    database.run(action, origin=origin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
