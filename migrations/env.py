"""Alembic environment: the URL from settings (or the caller's config), the models'
metadata as the autogenerate target, and batch mode so migrations also run on SQLite."""

from logging.config import fileConfig

from alembic import context

from cms.config import get_settings
from cms.db import create_db_engine
from cms.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata

# Full-text search lives outside the models (an FTS5 table and its shadow tables on SQLite,
# a FULLTEXT index on MySQL): migrations create it, autogenerate must not "remove" it.
FULL_TEXT_NAMES = ("articles_fts", "ix_articles_fulltext")


def include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    return not (name or "").startswith(FULL_TEXT_NAMES)


def database_url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_db_engine(database_url())
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=True,
                compare_type=True,
                include_name=include_name,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
