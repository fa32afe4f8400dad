"""Mounting the back office on the CMS application."""

from fastapi import FastAPI
from sqladmin import Admin

from admin.auth import PolicyAuthorization, StaffAuthentication
from admin.views import ArticleAdmin, UserAdmin
from cms.config import Settings
from cms.db import Database


def install(app: FastAPI, database: Database, settings: Settings) -> Admin:
    """Serve the back office at ``/admin`` with the app's own session factory."""
    admin = Admin(
        app,
        session_maker=database.sessionmaker,
        base_url="/admin",
        title="CMS back office",
        authentication_backend=StaffAuthentication(database, settings),
        authorization_backend=PolicyAuthorization(),
    )
    admin.add_view(ArticleAdmin)
    admin.add_view(UserAdmin)
    return admin
