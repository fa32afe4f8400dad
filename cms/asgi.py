"""The ASGI entry point for servers: ``uvicorn cms.asgi:app`` (what ``cms serve`` runs)."""

from cms.app import create_app

app = create_app()
