"""An admin-backed content management system: models, services, REST API and CLI."""

__version__ = "0.1.0"
