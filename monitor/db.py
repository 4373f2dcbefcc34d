"""Database maintenance: schema migrations (Alembic), retention and statistics.

    engine = create_engine(url)        # or monitor.store.open_engine
    applied = upgrade(engine)          # [] when already at head
    prune(engine, now - timedelta(days=90))
    stats(engine)

The migrations live in monitor/migrations (env.py, versions/); no alembic.ini is needed:
`alembic_config()` builds the Alembic configuration in code. Databases made by
`SQLModel.metadata.create_all` before migrations existed are recognised (tables present, no
`alembic_version`), stamped with the baseline revision, then upgraded.

This module imports monitor.store lazily, so monitor.store may import it at module level.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, inspect, select, update
from sqlalchemy.engine import Engine

if TYPE_CHECKING:  # Alembic itself is imported only when a migration is due
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001_baseline"
_PG_LOCK = 0x6E6D6F6E_6D696772  # pg_advisory_xact_lock key: one migrator at a time per database

# The tables and columns of the baseline revision: what a pre-Alembic database must have to be stamped
# (kept equal to 0001_baseline by tests/unit/test_db.py).
BASELINE_COLUMNS: dict[str, frozenset[str]] = {
    "source_state": frozenset(
        "name last_fetch last_success outcome error items new_items consecutive_failures not_modified etag last_modified".split()
    ),
    "story": frozenset("id title first_seen last_seen".split()),
    "article": frozenset(
        "id url canonical_url guid source language title text published fetched fingerprint story_id features".split()
    ),
    "match": frozenset("id watch article_id story_id hits clause created".split()),
    "delivery": frozenset(
        "id watch story_id target seq mode status attempts last_error done_urls created retry_base next_attempt sent_at".split()
    ),
    "sent_message": frozenset("id target kind digest_key at deliveries".split()),
}


class SchemaError(RuntimeError):
    """The database cannot be brought to the current schema automatically."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config for the packaged migrations; with a connection, env.py migrates over it."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


_REVISION = re.compile(r"^(down_)?revision\b[^=]*=\s*(?:\(\s*)?['\"]([^'\"]+)['\"]", re.MULTILINE)


def _head_quickly() -> str | None:
    """The newest revision read straight from the migration files, so a database that is
    already current is checked without importing Alembic (~10 MB and a tenth of a second at
    every start). None when the files are not plain enough to tell: ask Alembic."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = _REVISION.findall(path.read_text(encoding="utf-8"))
        if not found:
            continue
        mine = [value for down, value in found if not down]
        if len(mine) != 1:
            return None
        revisions.add(mine[0])
        downs.update(value for down, value in found if down)
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def head() -> str:
    """The newest revision the code knows (raises if the migrations have more than one head)."""
    revision = _script().get_current_head()
    assert revision is not None, f"no migrations in {MIGRATIONS}"
    return revision


def current(engine: Engine) -> str | None:
    """The database's revision; None for an empty or pre-Alembic database."""
    with engine.connect() as conn:
        return _current(conn)


def _current(conn: Connection) -> str | None:
    # Read alembic_version directly: MigrationContext would log "Context impl ..." at INFO on every call.
    if not inspect(conn).has_table("alembic_version"):
        return None
    versions = list(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
    if len(versions) > 1:
        raise SchemaError(f"database has several migration heads: {', '.join(sorted(versions))}")
    return versions[0] if versions else None


def upgrade(engine: Engine, revision: str = "head") -> list[str]:
    """Bring the schema to `revision` (the newest by default); return the revisions applied, oldest first.

    - empty database: every migration runs;
    - pre-Alembic database (our tables, no alembic_version): stamped 0001_baseline (not counted as
      applied), then upgraded; SchemaError if it lacks baseline tables or columns (nothing is changed);
    - already at the revision: nothing happens, [] is returned.

    One transaction, serialised against other processes (PostgreSQL advisory lock; SQLite
    BEGIN IMMEDIATE), so a failed migration leaves the database as it was, and two processes
    starting at once migrate once. On SQLite, foreign keys are off while migrating (batch
    migrations recreate tables) and restored afterwards.
    """
    if revision == "head":
        quick = _head_quickly()
        if quick is not None:
            with engine.connect() as conn:
                if _current(conn) == quick:
                    return []
    from alembic import command

    script = _script()
    target = script.get_current_head() if revision == "head" else script.get_revision(revision).revision
    with engine.connect() as conn:
        if _current(conn) == target:
            return []
        conn.rollback()
        sqlite = conn.dialect.name == "sqlite"
        foreign_keys = None
        if sqlite:  # PRAGMA foreign_keys is a no-op inside a transaction: set it before BEGIN
            foreign_keys = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            applied: list[str] = []
            with conn.begin():
                _lock(conn)
                before = _current(conn)
                if before is not None and before not in {r.revision for r in script.walk_revisions()}:
                    raise SchemaError(f"database is at revision {before!r}, unknown to this version of the monitor (newer?)")
                config = alembic_config(conn)
                config.attributes["on_version_apply"] = lambda ctx, step, heads, run_args: (
                    None if step.is_stamp else applied.append(step.up_revision_id)
                )
                if before is None and _legacy(conn):
                    log.info("database made before migrations: stamping %s", BASELINE)
                    command.stamp(config, BASELINE)
                command.upgrade(config, target)
        finally:
            if sqlite and foreign_keys:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
    if applied:
        log.info("database upgraded: %s", ", ".join(applied))
    return applied


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK})")
    elif conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if not getattr(raw, "in_transaction", True):  # pysqlite's legacy mode has not begun one
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def _legacy(conn: Connection) -> bool:
    """True for a database create_all made (has our tables); SchemaError if it is not the baseline or later."""
    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    ours = tables & set(BASELINE_COLUMNS)
    if not ours:
        return False
    missing = [name for name in BASELINE_COLUMNS if name not in tables]
    for name in sorted(ours):
        have = {c["name"] for c in inspector.get_columns(name)}
        missing += [f"{name}.{col}" for col in sorted(BASELINE_COLUMNS[name] - have)]
    if missing:
        raise SchemaError(
            "database has monitor tables but no migration history, and is older than the first migrated "
            f"schema ({BASELINE}); missing: {', '.join(missing)}"
        )
    return True


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def prune(engine: Engine, older_than: datetime) -> int:
    """Retention: blank the text of articles fetched before `older_than` (naive = UTC); rows, titles,
    URLs, features and story links stay. Returns how many articles were blanked (already blank ones
    are not counted again). One UPDATE statement.
    """
    from monitor.store import ArticleRow

    article = ArticleRow.__table__
    stmt = (
        update(article)
        .where(article.c.fetched < _utc(older_than), article.c.text != "")
        .values(text="")
    )
    with engine.begin() as conn:
        return conn.execute(stmt).rowcount


def stats(engine: Engine) -> dict[str, Any]:
    """What is stored and how big it is. Keys (all always present):

    - "backend": str, the SQLAlchemy dialect name ("sqlite", "postgresql")
    - "revision": str | None, the schema revision (see current())
    - "rows": dict[str, int], row count per table, keyed by table name (source_state, story,
      article, match, delivery, sent_message, ...: every table of monitor.store)
    - "articles_with_text": int, articles whose text is not empty
    - "articles_pruned": int, articles whose text is empty (pruned, or stored without text)
    - "oldest_article", "newest_article": datetime | None, min/max article `fetched`, aware UTC
      (None without articles)
    - "size_bytes": int, database size: SQLite page_count * page_size plus the -wal file (file
      databases); PostgreSQL pg_database_size(current_database())
    - "wal_bytes": int, the SQLite -wal file's size (0 without one, and on PostgreSQL)
    """
    from sqlmodel import SQLModel

    from monitor.store import ArticleRow

    article = ArticleRow.__table__
    with engine.connect() as conn:
        rows = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in SQLModel.metadata.sorted_tables}
        with_text = conn.execute(select(func.count()).select_from(article).where(article.c.text != "")).scalar_one()
        oldest, newest = conn.execute(select(func.min(article.c.fetched), func.max(article.c.fetched))).one()
        wal = 0
        if conn.dialect.name == "sqlite":
            size = conn.exec_driver_sql("PRAGMA page_count").scalar_one() * conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            path = next((row[2] for row in conn.exec_driver_sql("PRAGMA database_list") if row[1] == "main"), "")
            if path and os.path.exists(path + "-wal"):
                wal = os.path.getsize(path + "-wal")
            size += wal
        elif conn.dialect.name == "postgresql":
            size = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one()
        else:
            size = 0
        revision = _current(conn)
    return {
        "backend": engine.dialect.name,
        "revision": revision,
        "rows": rows,
        "articles_with_text": with_text,
        "articles_pruned": rows[article.name] - with_text,
        "oldest_article": oldest,  # UTCDateTime: already aware UTC
        "newest_article": newest,
        "size_bytes": int(size),
        "wal_bytes": wal,
    }
