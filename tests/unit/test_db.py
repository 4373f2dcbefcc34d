"""Migrations and maintenance on both backends: upgrade from empty, pre-Alembic and current databases,
migrated schema == models' schema, retention (prune) and stats."""

from __future__ import annotations

import os
import shutil
import threading
from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, Text, create_engine, event, inspect
from sqlmodel import SQLModel

from monitor import db
from monitor.normalize import to_article
from monitor.store import SourceState, Store
from monitor.types import Hit, RawDocument

NOW = datetime(2025, 11, 26, 12, 0, tzinfo=timezone.utc)
SOURCE_HEALTH = ["error_class", "failing_since", "last_new_item", "publish_gap", "next_due", "incident"]  # 0002


def make_engine(url: str, lock_timeout: float = 30):
    """What monitor.store.open_engine makes (WAL, foreign keys on), minus its create_all."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, connect_args={"options": f"-c lock_timeout={int(lock_timeout * 1000)}"})
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": lock_timeout})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # noqa: ANN001
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def revisions() -> list[str]:
    """Every revision id, oldest first."""
    return [s.revision for s in reversed(list(ScriptDirectory.from_config(db.alembic_config()).walk_revisions()))]


def schema(engine) -> dict:
    """Tables as the database reports them: columns (type affinity, DDL type, nullable), primary key,
    unique constraints, indexes, foreign keys. Column order and server defaults are left out."""
    out = {}
    with engine.connect() as conn:
        insp = inspect(conn)
        for table in sorted(insp.get_table_names()):
            if table == "alembic_version":
                continue
            out[table] = {
                "columns": {
                    c["name"]: (type(c["type"].as_generic()).__name__, c["type"].compile(dialect=conn.dialect), c["nullable"])
                    for c in insp.get_columns(table)
                },
                "primary_key": tuple(insp.get_pk_constraint(table)["constrained_columns"]),
                "unique": sorted((u["name"] or "", tuple(u["column_names"])) for u in insp.get_unique_constraints(table)),
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(table)),
                "foreign_keys": sorted(
                    (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                    for f in insp.get_foreign_keys(table)
                ),
            }
    return out


def wipe(engine) -> None:
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    assert inspect(engine).get_table_names() == []


def drop_columns(engine, table: str, columns: list[str]) -> None:
    """Turn a create_all database into what an older build's create_all made."""
    with engine.begin() as conn:
        for column in columns:
            conn.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {column}")


def article(url: str, fetched: datetime, text: str = "Text despre Bișkek.", source: str = "s"):
    return to_article(RawDocument(source=source, url=url, language="ro", title=f"Titlu {url}", text=f"{text} {url}"), fetched)


def fill(store: Store) -> dict[str, int]:
    """Four articles (40, 31, 30 and 1 days old), two in a story with a match and two deliveries."""
    with store.session() as s:
        a = {
            name: stored.id
            for name, stored in zip(
                ["old", "older", "edge", "new"],
                store.save_articles(
                    s,
                    [
                        article("https://x.ro/old", NOW - timedelta(days=31)),
                        article("https://x.ro/older", NOW - timedelta(days=40)),
                        article("https://x.ro/edge", NOW - timedelta(days=30)),
                        article("https://y.ro/new", NOW - timedelta(days=1), source="t"),
                    ],
                ),
            )
        }
        story = store.new_story(s, "Bișkek", NOW - timedelta(days=40))
        store.attach(s, a["older"], story, NOW - timedelta(days=40), features={"keys": ["biskek"]})
        store.attach(s, a["new"], story, NOW - timedelta(days=1), features={"keys": ["biskek"]})
        store.record_match(s, "csto", a["older"], story, [Hit("Bișkek", "text", "[[Bișkek]]")], ["mail", "chat"], NOW, "Bișkek")
        s.commit()
    return {**a, "story": story}


# ---- upgrade -----------------------------------------------------------------------------


def test_upgrade_creates_the_schema_on_an_empty_database_and_records_head(engine):
    assert db.current(engine) is None
    assert db.head() == revisions()[-1] and revisions()[0] == db.BASELINE
    assert db._head_quickly() == db.head()  # read from the files, so a current database is checked without Alembic
    assert db.upgrade(engine) == revisions()
    assert db.current(engine) == db.head()
    assert set(inspect(engine).get_table_names()) == set(SQLModel.metadata.tables) | {"alembic_version"}
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # restored after migrating
    # the schema works for the store
    store = Store(engine)
    ids = fill(store)
    assert [v.id for v in store.stories()] == [ids["story"]]


def test_upgrade_is_idempotent(engine, database_url):
    db.upgrade(engine)
    migrated = schema(engine)
    assert db.upgrade(engine) == []
    other = make_engine(database_url)  # another process starting later
    try:
        assert db.upgrade(other) == []
        assert db.current(other) == db.head()
    finally:
        other.dispose()
    assert schema(engine) == migrated


def test_upgrade_of_an_up_to_date_database_waits_for_no_lock(engine, database_url):
    """A CLI command starting while the daemon writes (SQLite) or migrates (PostgreSQL) must not queue up."""
    db.upgrade(engine)
    impatient = make_engine(database_url, lock_timeout=1)
    try:
        with engine.connect() as holder:
            if holder.dialect.name == "sqlite":
                holder.exec_driver_sql("BEGIN IMMEDIATE")
                holder.exec_driver_sql("DELETE FROM sent_message")
            else:
                holder.exec_driver_sql(f"SELECT pg_advisory_lock({db._PG_LOCK})")
            try:
                assert db.upgrade(impatient) == []
            finally:
                if holder.dialect.name == "sqlite":
                    holder.exec_driver_sql("ROLLBACK")
                else:
                    holder.exec_driver_sql(f"SELECT pg_advisory_unlock({db._PG_LOCK})")
                    holder.commit()
    finally:
        impatient.dispose()


def test_upgrade_goes_step_by_step_and_the_baseline_is_what_the_legacy_check_expects(engine):
    assert db.upgrade(engine, db.BASELINE) == [db.BASELINE]
    assert db.current(engine) == db.BASELINE
    insp = inspect(engine)
    baseline = {t: frozenset(c["name"] for c in insp.get_columns(t)) for t in insp.get_table_names() if t != "alembic_version"}
    assert baseline == db.BASELINE_COLUMNS
    assert db.upgrade(engine) == revisions()[1:]
    assert db.current(engine) == db.head()


def test_a_create_all_database_is_stamped_and_keeps_schema_and_data(engine):
    SQLModel.metadata.create_all(engine)  # what monitor.store.open_engine does today
    store = Store(engine)
    ids = fill(store)
    store.record_fetch("s", NOW, None, 4, 3)
    before = (schema(engine), store.stories(), store.counts(), store.source_states(), store.hits_for("csto", ids["story"]))
    assert db.current(engine) is None

    assert db.upgrade(engine) == revisions()[1:]  # stamped baseline, then the later (here no-op) steps
    assert db.current(engine) == db.head()
    assert (schema(engine), store.stories(), store.counts(), store.source_states(), store.hits_for("csto", ids["story"])) == before
    assert db.upgrade(engine) == []


def test_a_database_of_the_last_release_gets_the_new_columns(engine):
    SQLModel.metadata.create_all(engine)
    store = Store(engine)
    ids = fill(store)
    stories = store.stories()
    for table, columns in db.BASELINE_COLUMNS.items():  # back to what the last release's create_all made
        drop_columns(engine, table, sorted(set(SQLModel.metadata.tables[table].columns.keys()) - columns))
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO source_state (name, outcome, error, items, new_items, consecutive_failures, not_modified, etag, last_modified)"
            " VALUES ('s', 'ok', '', 4, 3, 0, false, 'W/\"1\"', '')"
        )
    assert {t: frozenset(c["name"] for c in inspect(engine).get_columns(t)) for t in db.BASELINE_COLUMNS} == db.BASELINE_COLUMNS

    assert db.upgrade(engine) == revisions()[1:]
    assert db.current(engine) == db.head()
    for table in SQLModel.metadata.sorted_tables:
        assert set(schema(engine)[table.name]["columns"]) == set(table.columns.keys())
    (state,) = store.source_states()
    assert (state.items, state.etag, state.error_class, state.incident, state.publish_gap, state.next_due) == (4, 'W/"1"', "", "", 0.0, None)
    with store.session() as s:  # the model's new columns are writable
        row = s.get(SourceState, "s")
        row.error_class, row.failing_since, row.publish_gap = "timeout", NOW, 90.0
        s.add(row)
        s.commit()
    (state,) = store.source_states()
    assert (state.error_class, state.failing_since, state.publish_gap) == ("timeout", NOW, 90.0)
    assert store.stories() == stories and store.story(ids["story"]) is not None
    assert len(store.pending_deliveries()) == 2


def test_a_database_older_than_the_baseline_is_refused_untouched(engine):
    SQLModel.metadata.create_all(engine)
    drop_columns(engine, "delivery", ["done_urls"])
    before = schema(engine)
    with pytest.raises(db.SchemaError, match=r"delivery\.done_urls"):
        db.upgrade(engine)
    assert db.current(engine) is None  # not stamped
    assert schema(engine) == before


def test_a_database_from_a_newer_monitor_is_refused_untouched(engine):
    db.upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    before = schema(engine)
    with pytest.raises(db.SchemaError, match="9999_from_the_future"):
        db.upgrade(engine)
    assert db.current(engine) == "9999_from_the_future" and schema(engine) == before


def test_a_failed_migration_leaves_the_database_as_it_was(engine, tmp_path, monkeypatch):
    migrations = tmp_path / "migrations"
    shutil.copytree(db.MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    (migrations / "versions" / "0099_broken.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n"
        f"revision = '0099_broken'\ndown_revision = {db.head()!r}\nbranch_labels = depends_on = None\n"
        "def upgrade():\n"
        "    op.create_table('half_done', sa.Column('id', sa.Integer, primary_key=True))\n"
        "    op.add_column('article', sa.Column('summary', sa.Text, nullable=False, server_default=''))\n"
        "    raise RuntimeError('migration bug')\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(db, "MIGRATIONS", migrations)
    with pytest.raises(RuntimeError, match="migration bug"):
        db.upgrade(engine)
    assert inspect(engine).get_table_names() == []  # not even the earlier revisions stayed
    assert db.current(engine) is None
    monkeypatch.undo()
    db.upgrade(engine)  # a fixed build migrates the same database
    assert db.current(engine) == db.head()
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_two_processes_starting_at_once_migrate_once(database_url):
    engines = [make_engine(database_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = db.upgrade(engines[i])
        except Exception as exc:  # noqa: BLE001
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert sorted(results, key=len) == [[], revisions()]
        assert db.current(engines[0]) == db.head()
    finally:
        for e in engines:
            e.dispose()


# ---- the migrations match the models -------------------------------------------------------


def test_migrations_build_the_same_schema_as_create_all(engine):
    db.upgrade(engine)
    migrated = schema(engine)
    wipe(engine)
    SQLModel.metadata.create_all(engine)
    created = schema(engine)
    assert set(migrated) == set(SQLModel.metadata.tables)
    for table in created:  # per table, for a readable failure
        assert migrated[table] == created[table], f"table {table}: a model change without a migration?"


def test_autogenerate_finds_nothing_to_migrate_after_upgrade(engine):
    db.upgrade(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, SQLModel.metadata) == []
        command.check(db.alembic_config(conn))  # the same through env.py (raises on differences)
        # ... and the comparison does see a model column that no migration adds
        changed = MetaData()
        for table in SQLModel.metadata.sorted_tables:
            table.to_metadata(changed)
        changed.tables["article"].append_column(Column("summary", Text, nullable=False, default=""))
        diffs = compare_metadata(ctx, changed)
        assert [(d[0], d[2], d[3].name) for d in diffs] == [("add_column", "article", "summary")]


# ---- retention and stats -------------------------------------------------------------------


def test_prune_blanks_only_old_texts_and_keeps_rows_and_stories(engine):
    db.upgrade(engine)
    store = Store(engine)
    ids = fill(store)
    urls = {"old": "https://x.ro/old", "older": "https://x.ro/older", "edge": "https://x.ro/edge", "new": "https://y.ro/new"}
    rows = {k: store.article_by_url(u) for k, u in urls.items()}
    stories, counts, hits = store.stories(), store.counts(), store.hits_for("csto", ids["story"])

    assert db.prune(engine, NOW - timedelta(days=30)) == 2
    after = {k: store.article_by_url(u) for k, u in urls.items()}
    assert {k: r.text for k, r in after.items()} == {
        "old": "", "older": "", "edge": rows["edge"].text, "new": rows["new"].text,
    }
    assert all(rows[k].text for k in rows)  # they all had text
    for k in urls:  # everything but the text stays: ids, URLs, titles, times, fingerprints, features, story links
        assert after[k].model_dump(exclude={"text"}) == rows[k].model_dump(exclude={"text"})
    assert after["older"].story_id == ids["story"] and after["older"].features
    assert (store.stories(), store.counts(), store.hits_for("csto", ids["story"])) == (stories, counts, hits)

    assert db.prune(engine, NOW - timedelta(days=30)) == 0  # already pruned ones are not counted again
    # a naive cutoff is UTC; an aware one in another zone is converted
    assert db.prune(engine, datetime(2025, 10, 27, 13, 59)) == 1  # edge: fetched 2025-10-27 12:00 UTC
    assert db.prune(engine, datetime(2025, 11, 25, 13, 0, tzinfo=timezone(timedelta(hours=2)))) == 0  # 11:00 UTC
    assert db.prune(engine, datetime(2025, 11, 25, 14, 1, tzinfo=timezone(timedelta(hours=2)))) == 1  # 12:01 UTC
    assert store.counts()["articles"] == 4


def test_stats_counts_rows_texts_times_and_size(engine):
    db.upgrade(engine)
    empty = db.stats(engine)
    keys = {"backend", "revision", "rows", "articles_with_text", "articles_pruned", "oldest_article", "newest_article", "size_bytes", "wal_bytes"}
    assert set(empty) == keys
    assert empty["rows"] == {t: 0 for t in SQLModel.metadata.tables}
    assert (empty["articles_with_text"], empty["articles_pruned"], empty["oldest_article"], empty["newest_article"]) == (0, 0, None, None)
    assert empty["revision"] == db.head() and empty["backend"] == engine.dialect.name

    store = Store(engine)
    fill(store)
    store.record_fetch("s", NOW, None, 4, 3)
    (first, _second) = store.pending_deliveries()
    store.mark_sent([first.id], first.target, "alert", NOW)
    db.prune(engine, NOW - timedelta(days=30))
    s = db.stats(engine)
    assert set(s) == keys
    assert s["rows"] == {"source_state": 1, "story": 1, "article": 4, "match": 1, "delivery": 2, "sent_message": 1}
    assert store.counts()["articles"] == s["rows"]["article"] and store.counts()["stories"] == s["rows"]["story"]
    assert (s["articles_with_text"], s["articles_pruned"]) == (2, 2)
    assert s["oldest_article"] == NOW - timedelta(days=40) and s["oldest_article"].tzinfo is not None
    assert s["newest_article"] == NOW - timedelta(days=1)

    assert s["size_bytes"] > 0
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar() * conn.exec_driver_sql("PRAGMA page_size").scalar()
            assert s["wal_bytes"] == os.path.getsize(engine.url.database + "-wal") > 0
            assert s["size_bytes"] == pages + s["wal_bytes"]
        else:
            assert s["wal_bytes"] == 0
            assert s["size_bytes"] == conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()


@pytest.mark.one_backend
def test_a_current_database_opens_without_importing_alembic(tmp_path):
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'current.db'}"
    Store.from_url(url).close()  # creates and migrates it
    probe = (
        "import sys; from monitor.store import Store; Store.from_url(sys.argv[1]).close();"
        " print('alembic' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"  # ~10 MB and a tenth of a second saved at every start
