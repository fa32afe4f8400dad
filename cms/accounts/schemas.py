"""What the password-reset endpoints accept and return."""

from pydantic import BaseModel, ConfigDict, Field

from cms.fields import Email, Password

# Longer than any token we sign; a longer one is refused before any work.
TOKEN_MAX_LENGTH = 1000


class PasswordResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email


class PasswordResetAccepted(BaseModel):
    detail: str = Field(
        description="The same whether or not the address has an account",
    )


class PasswordResetConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=TOKEN_MAX_LENGTH, description="From the link")
    password: Password
