"""FastAPI dependencies shared by every router: the database, the caller, where they are.

The caller proves who they are with a bearer token from ``/auth/token`` or an API key
(``Authorization: Bearer cms_…`` or ``X-API-Key``; never the query string). A key's
scopes are checked here, where every request enters: reads need ``content:read``
(published content only) or ``drafts:read`` (what the owner may read), and a write needs
the scope of the domain its action belongs to (:func:`scope_for`).

Reads get a session and the viewer. Writes get a :class:`Writer`, which runs the work in
the one unit of work (:meth:`cms.db.Database.run`) with the caller as its actor: the
commit happens inside the handler, before the response is sent, so a failed commit
becomes an error response, never a 2xx.
"""

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from cms import security
from cms.actors import Actor, Origin
from cms.apikeys import keys
from cms.apikeys import service as apikeys
from cms.apikeys.keys import PresentedKey
from cms.apikeys.service import KeyHolder, Scope
from cms.articles import reads
from cms.auth import throttle
from cms.auth.service import user_for_credentials
from cms.config import Settings
from cms.db import Database, UnitOfWork, utcnow
from cms.errors import NotAuthenticated, PermissionDenied
from cms.site.urls import SiteAddresses
from cms.users.models import User

T = TypeVar("T")

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
# Dependencies that do no I/O are ``async``: FastAPI runs sync ones in the thread pool,
# one thread hop each, for nothing.

INVALID_TOKEN = "Invalid or expired token; get a new one from /auth/token"  # noqa: S105
NO_TOKEN = "Not authenticated; send Authorization: Bearer <token> from /auth/token"  # noqa: S105
# A token's (user id, session version), or an API key as presented.
Credentials = tuple[int, int] | PresentedKey
KEY_CANNOT_READ = "This API key cannot read this; it needs the content:read or drafts:read scope"
KEY_CANNOT = "This API key's scopes do not allow this request"


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


async def get_site_addresses(request: Request) -> SiteAddresses:
    """Where readers find things (:mod:`cms.site.urls`), for this application."""
    addresses: SiteAddresses = request.app.state.site_addresses
    return addresses


DatabaseDep = Annotated[Database, Depends(get_database)]
SiteAddressesDep = Annotated[SiteAddresses, Depends(get_site_addresses)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
OriginDep = Annotated[Origin, Depends(get_origin)]


async def get_credentials(
    request: Request,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Credentials | None:
    """The user id and session version a bearer token proves, or the API key sent, both
    without a database read.

    A token that is malformed, forged or expired, or a key whose checksum is wrong, is a
    401, never silent anonymity.
    """
    presented = request.headers.get("x-api-key")
    if presented is None and token is not None and keys.looks_like_key(token):
        presented = token
    if presented is not None:
        key = keys.parse(presented.strip())
        if key is None:
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail=apikeys.INVALID_KEY,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return key
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


def read_viewer(connection: Connection, credentials: Credentials | None) -> Actor | None:
    """Who is reading, on a plain read's connection, in one statement (none when
    anonymous): a token's user, a key's holder, or ``None`` (anonymous, or a key that
    reads published content only)."""
    if credentials is None:
        return None
    if isinstance(credentials, PresentedKey):
        holder = apikeys.authenticate(connection, connection.engine, credentials)
        return _reading_as(holder)
    return reads.load_viewer(connection, *credentials)


def _reading_as(holder: KeyHolder) -> KeyHolder | None:
    if holder.allows(Scope.DRAFTS_READ):
        return holder
    if holder.allows(Scope.CONTENT_READ):
        return None
    raise PermissionDenied(KEY_CANNOT_READ)


def scope_for(work: Any) -> Scope | None:
    """The scope a key needs to run ``work``, by the domain its action belongs to;
    ``None``: no key may (accounts and passwords are for people)."""
    module = getattr(type(work), "__module__", "")
    for prefix, scope in (
        ("cms.articles.", Scope.ARTICLES_WRITE),
        ("cms.media.", Scope.MEDIA_WRITE),
        ("cms.webhooks.", Scope.WEBHOOKS_MANAGE),
    ):
        if module.startswith(prefix):
            return scope
    return None


def _key_owner(session: Session, holder: KeyHolder) -> User:
    if holder.id is None:
        raise PermissionDenied(KEY_CANNOT)
    owner = session.get(User, holder.id)
    if owner is None:
        raise NotAuthenticated(apikeys.INVALID_KEY)
    return owner


def _load_caller(session: Session, credentials: Credentials | None) -> User | None:
    if credentials is None:
        return None
    if isinstance(credentials, PresentedKey):
        holder = _reading_as(apikeys.authenticate(session, _engine(session), credentials))
        return None if holder is None else _key_owner(session, holder)
    user = user_for_credentials(session, *credentials)
    if user is None:  # deactivated, deleted, or signed out everywhere since
        raise NotAuthenticated(INVALID_TOKEN)
    return user


def get_viewer(session: ReadSession, credentials: CredentialsDep) -> User | None:
    """Who is reading: the token's user, or ``None`` for anonymous readers."""
    return _load_caller(session, credentials)


def get_signed_in_viewer(
    viewer: Annotated[User | None, Depends(get_viewer)], credentials: CredentialsDep
) -> User:
    if viewer is None:
        if isinstance(credentials, PresentedKey):
            raise PermissionDenied(KEY_CANNOT)
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
        credentials = self.credentials
        if isinstance(credentials, PresentedKey):
            scope = scope_for(work)

            def key_actor(session: Session) -> Actor:
                holder = apikeys.authenticate(session, _engine(session), credentials)
                if scope is None or not holder.allows(scope):
                    raise PermissionDenied(KEY_CANNOT)
                # A user's key acts as the user (the policy caps it by their role) and its
                # writes count against that account's rate; an integration key acts as
                # itself, with an admin's authority.
                if holder.id is None:
                    return holder
                owner = _key_owner(session, holder)
                throttle.charge_write(session, owner.id, self.database.limits, utcnow())
                return owner

            return self.database.run(work, actor=key_actor, origin=self.origin)

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


def _engine(session: Session) -> Any:
    return session.get_bind()
