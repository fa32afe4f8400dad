"""Domain errors: raised by services, translated to HTTP by the API and to messages by the admin.

Every message is written for the person who sent the request: it says what was wrong
and, where it helps, what to do. None carries SQL, hashes or stack traces.
"""


class ConfigurationError(Exception):
    """The installation cannot work as configured; the message says how to fix it."""


class DomainError(Exception):
    """Base class; ``message`` is safe to show to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The object does not exist, or the caller may not know that it does."""


class PermissionDenied(DomainError):
    """The caller can see the object but may not do this to it."""


class Conflict(DomainError):
    """The request clashes with the current state (a taken email or slug, a lost race)."""


class PreconditionFailed(DomainError):
    """The caller's copy (``If-Match``, an opened form) is no longer the current one."""


class SlugMoved(DomainError):
    """An article asked for by a slug it had before; it lives at ``current_slug`` now."""

    def __init__(self, message: str, *, current_slug: str) -> None:
        super().__init__(message)
        self.current_slug = current_slug


class InvalidInput(DomainError):
    """A field's value is not acceptable; ``field`` names it, ``location`` says where it
    was sent (``body`` or ``query``)."""

    def __init__(self, field: str, message: str, *, location: str = "body") -> None:
        super().__init__(message)
        self.field = field
        self.location = location


class NotAuthenticated(DomainError):
    """The request needs a signed-in caller, or its credentials were revoked."""


class AuthenticationFailed(DomainError):
    """Wrong email, wrong password or inactive user: deliberately indistinguishable."""


class TooManyAttempts(DomainError):
    """Too many attempts (failed logins, sign-ups, an account's writes); try again after
    ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnsupportedMediaType(DomainError):
    """A file of a type that is not accepted (decided from its bytes, never its name)."""


class TooLarge(DomainError):
    """What was sent is larger than accepted (an upload past its size cap)."""


class LinkNoLongerWorks(DomainError):
    """A mailed link's token is unknown, forged, used, expired, revoked or superseded
    (400: nothing the caller could correct in this request)."""


class Busy(DomainError):
    """The server is doing as much of this work as it allows at once; retry after
    ``retry_after`` seconds. Nothing was changed."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
