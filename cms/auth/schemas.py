"""What the auth endpoint takes and returns."""

from pydantic import BaseModel, Field


class LoginForm(BaseModel):
    """OAuth2's password flow (what Swagger UI's Authorize button sends), with the rules
    this API applies stated in the schema: an empty field is a missing one (422)."""

    grant_type: str | None = Field(default=None, pattern="^password$")
    username: str = Field(min_length=1, description="The account's email address")
    password: str = Field(min_length=1, json_schema_extra={"format": "password"})
    scope: str = ""
    otp: str | None = Field(
        default=None,
        max_length=32,
        description="The 6-digit code from the account's authenticator app, or one of its "
        "recovery codes: required for an account with two-factor sign-in",
    )


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 token type)
    expires_in: int = Field(description="Seconds until the token expires")
