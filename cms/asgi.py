"""The composition root: the REST API with the back office mounted on it.

The one module where ``cms`` and ``admin`` meet. Servers call :func:`build_app`
(``uvicorn --factory cms.asgi:build_app``, which is what ``cms serve`` runs).
"""

from fastapi import FastAPI

from admin import install_back_office
from cms.app import create_app
from cms.config import Settings


def build_app(settings: Settings | None = None) -> FastAPI:
    """The whole CMS for ``settings`` (default: from the environment)."""
    app = create_app(settings)
    install_back_office(app)
    return app
