"""FastAPI dependencies shared by every router: the database, the caller, where they are.

Reads get a session and the viewer. Writes get a :class:`Writer`, which runs the work in
the one unit of work (:meth:`cms.db.Database.run`) with the caller as its actor: the
commit happens inside the handler, before the response is sent, so a failed commit
becomes an error response, never a 2xx.
"""

from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from cms import security
from cms.actors import Origin
from cms.auth import throttle
from cms.auth.service import user_for_credentials
from cms.config import Settings
from cms.db import Database, UnitOfWork, utcnow
from cms.errors import NotAuthenticated
from cms.users.models import User

T = TypeVar("T")

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
# Dependencies that do no I/O are ``async``: FastAPI runs sync ones in the thread pool,
# one thread hop each, for nothing.

INVALID_TOKEN = "Invalid or expired token; get a new one from /auth/token"  # noqa: S105
NO_TOKEN = "Not authenticated; send Authorization: Bearer <token> from /auth/token"  # noqa: S105
Credentials = tuple[int, int]


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_origin(request: Request) -> Origin:
    """The API as the surface, with the address and id the middleware gave the request."""
    state = request.scope.get("state", {})
    return Origin(
        surface="api",
        address=state.get("client_address"),
        request_id=state.get("request_id"),
    )


DatabaseDep = Annotated[Database, Depends(get_database)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
OriginDep = Annotated[Origin, Depends(get_origin)]


async def get_credentials(
    settings: SettingsDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Credentials | None:
    """The user id and session version a bearer token proves, without a database read.

    A token that is malformed, forged or expired is a 401, never silent anonymity.
    """
    if token is None:
        return None
    claims = security.decode_access_token(token, secret_key=settings.secret)
    if claims is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail=INVALID_TOKEN,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return claims


CredentialsDep = Annotated[Credentials | None, Depends(get_credentials)]


def get_read_session(database: DatabaseDep) -> Iterator[Session]:
    """A session for a read-only request: nothing it does is committed."""
    with database.reading() as session:
        yield session


ReadSession = Annotated[Session, Depends(get_read_session)]


def _load_caller(session: Session, credentials: Credentials | None) -> User | None:
    if credentials is None:
        return None
    user = user_for_credentials(session, *credentials)
    if user is None:  # deactivated, deleted, or signed out everywhere since
        raise NotAuthenticated(INVALID_TOKEN)
    return user


def get_viewer(session: ReadSession, credentials: CredentialsDep) -> User | None:
    """Who is reading: the token's user, or ``None`` for anonymous readers."""
    return _load_caller(session, credentials)


def get_signed_in_viewer(viewer: Annotated[User | None, Depends(get_viewer)]) -> User:
    if viewer is None:
        raise NotAuthenticated(NO_TOKEN)
    return viewer


Viewer = Annotated[User | None, Depends(get_viewer)]
SignedInViewer = Annotated[User, Depends(get_signed_in_viewer)]


class Writer:
    """Runs a request's write in one unit of work, as the caller, retried on deadlock."""

    def __init__(self, database: Database, credentials: Credentials | None, origin: Origin) -> None:
        self.database = database
        self.credentials = credentials
        self.origin = origin

    def run(self, work: Callable[[UnitOfWork], T], *, anonymous: bool = False) -> T:
        """``work(uow)`` committed. The caller must be signed in unless ``anonymous``:
        without credentials the request is refused before ``work`` is prepared (nobody
        anonymous gets a body rendered)."""
        if self.credentials is None and not anonymous:
            raise NotAuthenticated(NO_TOKEN)

        def actor(session: Session) -> User | None:
            user = _load_caller(session, self.credentials)
            if user is None and not anonymous:
                raise NotAuthenticated(NO_TOKEN)
            if user is not None:
                throttle.charge_write(session, user.id, self.database.limits, utcnow())
            return user

        return self.database.run(work, actor=actor, origin=self.origin)


async def get_writer(
    database: DatabaseDep, credentials: CredentialsDep, origin: OriginDep
) -> Writer:
    return Writer(database, credentials, origin)


WriterDep = Annotated[Writer, Depends(get_writer)]
