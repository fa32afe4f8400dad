"""``POST /auth/token``: the OAuth2 password flow."""

from typing import Annotated

from fastapi import APIRouter, Form

from cms.auth import service
from cms.auth.schemas import LoginForm, Token
from cms.deps import DatabaseDep, OriginDep, SettingsDep
from cms.openapi import answers

router = APIRouter(tags=["auth"])


@router.post(
    "/auth/token",
    response_model=Token,
    responses=answers(401, 429),
)
def login_for_access_token(
    form: Annotated[LoginForm, Form()],
    database: DatabaseDep,
    settings: SettingsDep,
    origin: OriginDep,
) -> Token:
    """Exchange an email (``username``) and password for a bearer token; an account with
    two-factor sign-in also sends its current code as ``otp`` (without it: 401 saying so)."""
    user = service.sign_in_for_token(
        database,
        email=form.username,
        password=form.password,
        otp=form.otp,
        origin=origin,
        settings=settings,
    )
    token, expires_in = service.issue_access_token(user, settings=settings)
    return Token(access_token=token, expires_in=expires_in)
