"""Alembic's script directory. In the installed package it is ``cms.migration_scripts``
(pyproject.toml maps this folder there), which is how :mod:`cms.migrations` finds it."""
