"""``POST /auth/token``: the OAuth2 password flow."""

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm

from cms.auth import service
from cms.auth.schemas import Token
from cms.deps import SessionDep, SettingsDep
from cms.errors import AuthenticationFailed, TooManyAttempts

router = APIRouter(tags=["auth"])


@router.post(
    "/auth/token",
    response_model=Token,
    responses={401: {"description": "Incorrect email or password"}, 429: {}},
)
def login_for_access_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> Token | JSONResponse:
    """Exchange an email (``username``) and password for a bearer token."""
    try:
        user = service.authenticate(
            session, email=form.username, password=form.password, settings=settings
        )
    except AuthenticationFailed as exc:
        # Returned, not raised: the recorded failure must be committed with the request.
        return JSONResponse(
            {"detail": exc.message},
            status_code=status.HTTP_401_UNAUTHORIZED,
            headers={"WWW-Authenticate": "Bearer"},
        )
    except TooManyAttempts as exc:
        return JSONResponse(
            {"detail": exc.message},
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(exc.retry_after)},
        )
    token, expires_in = service.issue_access_token(user, settings=settings)
    return Token(access_token=token, expires_in=expires_in)
