"""Alembic environment for the monitor's database.

Run programmatically by `monitor.db.upgrade()`, which passes an open connection in
`config.attributes["connection"]` (already inside a transaction it commits itself).
Developers can also use the Alembic CLI against a scratch database, e.g.

    MONITOR_DATABASE_URL=sqlite:///scratch.db .venv/bin/alembic -c monitor/migrations/alembic.ini upgrade head
    MONITOR_DATABASE_URL=sqlite:///scratch.db .venv/bin/alembic -c monitor/migrations/alembic.ini \
        revision --autogenerate --rev-id 0002_short_name -m "what changes"
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

import monitor.store  # noqa: F401  (registers the tables on SQLModel.metadata, for autogenerate)

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("MONITOR_DATABASE_URL")
    if not url:
        raise SystemExit("set MONITOR_DATABASE_URL or pass -x url=... to point Alembic at a database")
    return url


def _options(dialect_name: str) -> dict:
    return {
        "target_metadata": target_metadata,
        # SQLite cannot ALTER most things: batch mode recreates the table (copy, drop, rename).
        "render_as_batch": dialect_name == "sqlite",
        "compare_type": True,
        "on_version_apply": config.attributes.get("on_version_apply") or (),
    }


def run_offline() -> None:
    url = _url()
    context.configure(url=url, literal_binds=True, **_options(url.split(":", 1)[0].split("+", 1)[0]))
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **_options(connection.dialect.name))
        with context.begin_transaction():  # a no-op inside the caller's transaction
            context.run_migrations()
        return
    if config.config_file_name:  # the Alembic CLI with alembic.ini
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, **_options(conn.dialect.name))
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
