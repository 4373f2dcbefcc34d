"""Storage: SQLModel tables and the only SQL in the project.

SQLite (WAL) by default, any SQLAlchemy URL otherwise; PostgreSQL is tested.
Times are aware UTC on both sides (SQLModel's UTCDateTime).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from sqlalchemy import Column, Text, UniqueConstraint, and_, bindparam, event, func, or_, text, update
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Field, Session, SQLModel, create_engine, select

from monitor.types import Article, Hit, StoryArticle

if TYPE_CHECKING:
    from monitor.schedule import Cadence

log = logging.getLogger(__name__)


class SourceState(SQLModel, table=True):
    __tablename__ = "source_state"
    name: str = Field(primary_key=True)
    last_fetch: datetime | None = None
    last_success: datetime | None = None
    outcome: str = "never"  # ok | error
    error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    items: int = 0  # entries seen in the last fetch
    new_items: int = 0
    consecutive_failures: int = 0
    not_modified: bool = False  # the last fetch was answered 304
    error_class: str = ""  # dns, timeout, connection, http, parse, blocked, other
    failing_since: datetime | None = None
    last_new_item: datetime | None = None
    publish_gap: float = 0.0  # usual seconds between fetches bringing new articles (moving average)
    next_due: datetime | None = None  # adaptive polling and failure back-off
    incident: str = ""  # the operator alert already sent for the current trouble (failing, silent)
    etag: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    last_modified: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    content_hash: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # of the last feed body read


class StoryRow(SQLModel, table=True):
    __tablename__ = "story"
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_column=Column(Text, nullable=False))
    first_seen: datetime = Field(index=True)
    last_seen: datetime


class ArticleRow(SQLModel, table=True):
    __tablename__ = "article"
    __table_args__ = (UniqueConstraint("canonical_url"),)
    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column=Column(Text, nullable=False))
    canonical_url: str = Field(sa_column=Column(Text, nullable=False))
    guid: str = Field(default="", index=True, max_length=2000)
    source: str = Field(index=True)
    language: str
    title: str = Field(sa_column=Column(Text, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    published: datetime | None = None
    fetched: datetime = Field(index=True)
    fingerprint: str = Field(index=True)
    story_id: int | None = Field(default=None, foreign_key="story.id", index=True)
    features: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # for the story index


class MatchRow(SQLModel, table=True):
    __tablename__ = "match"
    __table_args__ = (UniqueConstraint("watch", "article_id"),)
    id: int | None = Field(default=None, primary_key=True)
    watch: str = Field(index=True)
    article_id: int = Field(foreign_key="article.id")
    story_id: int = Field(foreign_key="story.id", index=True)
    hits: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    clause: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created: datetime


class Delivery(SQLModel, table=True):
    """One message for (watch, story, target, seq); the unique key is what makes alerts once-only."""

    __tablename__ = "delivery"
    __table_args__ = (UniqueConstraint("watch", "story_id", "target", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    watch: str
    story_id: int = Field(foreign_key="story.id", index=True)
    target: str
    seq: int = 0  # 0: the alert; 1, 2, ...: "also covered by" follow-ups (watches with updates: true)
    mode: str = "instant"  # instant, or digest:watch:NAME / digest:target:NAME (which schedule sends it)
    status: str = Field(default="pending", index=True)  # pending | sent | failed (gave up)
    attempts: int = 0
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    done_urls: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))  # URLs of the target already sent to
    created: datetime
    retry_base: datetime  # giving up is counted from here: creation, or a manual retry
    next_attempt: datetime
    sent_at: datetime | None = None
    claimed_until: datetime | None = None  # a sender is on it: others keep off until then (several daemons, one database)
    claimed_by: str = ""  # host:pid of that sender


class SentMessage(SQLModel, table=True):
    """Every message that went out to a target: rate limits and digest schedules read this."""

    __tablename__ = "sent_message"
    id: int | None = Field(default=None, primary_key=True)
    target: str = Field(index=True)
    kind: str  # alert | digest | quiet | rate | test
    digest_key: str = ""
    at: datetime = Field(index=True)
    deliveries: int = 0


def utc(value: datetime | None) -> datetime | None:
    """Aware UTC for the database (SQLModel's UTCDateTime stores it portably)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def open_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    from monitor.db import upgrade

    upgrade(engine)  # creates or migrates the schema (Alembic); a no-op when current
    return engine


@dataclass(frozen=True)
class StoredArticle:
    id: int
    story_id: int | None
    article: Article


@dataclass(frozen=True)
class NewMatch:
    watch: str
    article_id: int
    story_id: int
    hits: tuple[Hit, ...]
    targets: tuple[str, ...]
    clause: str = ""
    modes: dict[str, str] | None = None


@dataclass
class Fetch:
    """One source's pass, as the source state records it."""

    name: str
    when: datetime
    error: str | None
    items: int
    new_items: int
    validators: dict[str, str] | None = None
    not_modified: bool = False
    error_class: str = ""
    retry_after: float | None = None
    cadence: "Cadence | None" = None

    def apply(self, state: SourceState) -> None:
        from monitor.schedule import next_due, updated_gap

        when, error = utc(self.when), self.error
        state.last_fetch = when
        if self.new_items and not error:
            state.publish_gap = updated_gap(state.publish_gap, aware(state.last_new_item), when)
            state.last_new_item = when
        state.not_modified = self.not_modified and not error
        if not state.not_modified:
            state.items = self.items
            state.new_items = self.new_items
        else:
            state.new_items = 0
        if self.validators is not None and not error:
            state.etag = self.validators.get("etag", "")
            state.last_modified = self.validators.get("last_modified", "")
            state.content_hash = self.validators.get("hash", "")
        if error:
            state.outcome = "error"
            state.error = error
            state.error_class = self.error_class or "other"
            state.consecutive_failures = (state.consecutive_failures or 0) + 1
            state.failing_since = state.failing_since or when
        else:
            state.outcome = "ok"
            state.error = ""
            state.error_class = ""
            state.last_success = when
            state.consecutive_failures = 0
            state.failing_since = None
        if self.cadence is not None:
            state.next_due = next_due(when, self.cadence, state.consecutive_failures, state.publish_gap, self.retry_after)


def validators_of(state: SourceState) -> dict[str, str]:
    """What the next fetch of a feed sends (ETag, Last-Modified) and compares (the body's hash)."""
    pairs = (("etag", state.etag), ("last_modified", state.last_modified), ("hash", state.content_hash))
    return {k: v for k, v in pairs if v}


def _chunks(values: Sequence, size: int = 500) -> Iterator[Sequence]:
    """IN-lists of a bounded size (SQLite caps bound parameters)."""
    for i in range(0, len(values), size):
        yield values[i : i + size]


@dataclass(frozen=True)
class StoryView:
    id: int
    title: str
    first_seen: datetime
    articles: tuple[StoryArticle, ...]

    @property
    def languages(self) -> list[str]:
        return sorted({a.language for a in self.articles})


@dataclass(frozen=True)
class PendingDelivery:
    id: int
    watch: str
    story_id: int
    target: str
    attempts: int
    seq: int = 0
    previous_sent: datetime | None = None  # for a follow-up: when the last message about the story went out
    mode: str = "instant"
    created: datetime | None = None
    retry_base: datetime | None = None
    next_attempt: datetime | None = None
    done_urls: tuple[str, ...] = ()


class Store:
    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> "Store":
        return cls(open_engine(url))

    def close(self) -> None:
        self.engine.dispose()

    # ---- sources -------------------------------------------------------------------
    def record_fetch(self, name: str, when: datetime, *outcome: Any, **named: Any) -> SourceState:
        """One source's pass (the fields of `Fetch`); returns its new state."""
        return self.record_fetches([Fetch(name, when, *outcome, **named)])[name]

    def record_fetches(self, fetches: Sequence["Fetch"]) -> dict[str, SourceState]:
        """The outcome of a pass over some sources, one transaction; returns their new states."""
        from sqlalchemy.exc import IntegrityError

        try:
            return self._record_fetches(fetches)
        except IntegrityError:  # another daemon on the same database created a row first
            return self._record_fetches(fetches)

    def _record_fetches(self, fetches: Sequence["Fetch"]) -> dict[str, SourceState]:
        with Session(self.engine, expire_on_commit=False) as s:
            states: dict[str, SourceState] = {}
            for chunk in _chunks(sorted({f.name for f in fetches})):
                states.update((st.name, st) for st in s.exec(select(SourceState).where(SourceState.name.in_(chunk))))
            for fetch in fetches:
                state = states.get(fetch.name) or SourceState(name=fetch.name)
                states[fetch.name] = state
                fetch.apply(state)
                s.add(state)
            s.commit()
            return states

    def set_incident(self, name: str, incident: str) -> None:
        with Session(self.engine) as s:
            state = s.get(SourceState, name)
            if state is not None:
                state.incident = incident
                s.add(state)
                s.commit()

    def source_states(self) -> list[SourceState]:
        with Session(self.engine) as s:
            rows = list(s.exec(select(SourceState).order_by(SourceState.name)))
            for r in rows:
                r.last_fetch, r.last_success = aware(r.last_fetch), aware(r.last_success)
                r.last_new_item, r.failing_since, r.next_due = aware(r.last_new_item), aware(r.failing_since), aware(r.next_due)
            return rows

    def known_links(self, source: str, limit: int = 5000) -> set[str]:
        """URLs and GUIDs of a source's recent articles, so spiders skip what is stored."""
        with Session(self.engine) as s:
            rows = s.exec(
                select(ArticleRow.url, ArticleRow.canonical_url, ArticleRow.guid)
                .where(ArticleRow.source == source)
                .order_by(ArticleRow.id.desc())
                .limit(limit)
            )
            return {v for row in rows for v in row if v}

    # ---- articles ------------------------------------------------------------------
    def fresh_articles(self, session: Session, articles: Sequence[Article]) -> list[Article]:
        """The articles not stored yet (by canonical URL, source+GUID, source+text), in order.

        A known article whose headline changed gets the newest headline. Nothing new is
        written here: the caller inserts the fresh ones with `insert_articles`.
        """
        unique: dict[str, Article] = {}
        for a in articles:
            unique[a.canonical_url] = a  # the later copy in a batch wins, as a re-fetch would
        batch = list(unique.values())
        if not batch:
            return []
        cols = (ArticleRow.id, ArticleRow.canonical_url, ArticleRow.source, ArticleRow.guid, ArticleRow.fingerprint, ArticleRow.title)
        existing: dict[int, tuple] = {}
        for column, values in (
            (ArticleRow.canonical_url, [a.canonical_url for a in batch]),
            (ArticleRow.guid, [a.guid[:2000] for a in batch if a.guid]),
            (ArticleRow.fingerprint, [a.fingerprint for a in batch]),
        ):
            for chunk in _chunks(sorted(set(values))):
                for row in session.exec(select(*cols).where(column.in_(chunk))):
                    existing[row[0]] = tuple(row)
        by_canon = {r[1]: r for r in existing.values()}
        by_guid = {(r[2], r[3]): r for r in existing.values() if r[3]}
        by_print = {(r[2], r[4]): r for r in existing.values()}
        fresh: list[Article] = []
        retitled: list[dict] = []
        seen_guid: set[tuple[str, str]] = set()
        seen_print: set[tuple[str, str]] = set()
        for a in batch:
            old = by_canon.get(a.canonical_url) or (by_guid.get((a.source, a.guid[:2000])) if a.guid else None)
            old = old or by_print.get((a.source, a.fingerprint))
            if old is not None:
                if a.title and old[5] != a.title:
                    retitled.append({"_id": old[0], "title": a.title})
                continue
            if (a.guid and (a.source, a.guid) in seen_guid) or (a.source, a.fingerprint) in seen_print:
                continue
            seen_guid.add((a.source, a.guid))
            seen_print.add((a.source, a.fingerprint))
            fresh.append(a)
        if retitled:
            table = ArticleRow.__table__
            session.execute(update(table).where(table.c.id == bindparam("_id")).values(title=bindparam("title")), retitled)
        return fresh

    def next_ids(self, session: Session, table: str, chunk: int = 256) -> Iterator[int]:
        """Ids for new rows of a table, known before the rows are written (so a batch goes in one INSERT).

        PostgreSQL hands them out from the table's sequence, safe with other writers;
        SQLite has one writer at a time, and a clash with another process's insert
        fails the transaction, which the caller retries.
        """
        if self.engine.dialect.name == "postgresql":
            while True:
                yield from session.execute(
                    text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)"), {"n": chunk}
                ).scalars()
        else:
            start = session.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()
            yield from itertools.count(start + 1)

    def insert_articles(self, session: Session, rows: list[tuple[int, Article, int | None, dict | None]]) -> None:
        """(id, article, story id, story features) rows, one INSERT for the lot."""
        if not rows:
            return
        session.execute(
            ArticleRow.__table__.insert(),
            [
                {
                    "id": article_id, "url": a.url, "canonical_url": a.canonical_url, "guid": a.guid[:2000], "source": a.source,
                    "language": a.language, "title": a.title, "text": a.text, "published": utc(a.published), "fetched": utc(a.fetched),
                    "fingerprint": a.fingerprint, "story_id": story_id, "features": json.dumps(feats) if feats is not None else "",
                }
                for article_id, a, story_id, feats in rows
            ],
        )

    def save_articles(self, session: Session, articles: Sequence[Article]) -> list[StoredArticle]:
        """Insert what is new, not yet in a story; return only the new ones."""
        fresh = self.fresh_articles(session, articles)
        ids = self.next_ids(session, "article")
        rows = [(next(ids), a, None, None) for a in fresh]
        self.insert_articles(session, rows)
        return [StoredArticle(i, None, a) for i, a, _, _ in rows]

    def recent_articles(self, session: Session, since: datetime, after_id: int = 0) -> list[tuple[int, int, dict, datetime]]:
        """(article id, story id, story features, fetched) of grouped articles fetched since a time."""
        rows = session.exec(
            select(ArticleRow.id, ArticleRow.story_id, ArticleRow.features, ArticleRow.fetched)
            .where(
                ArticleRow.fetched >= utc(since),
                ArticleRow.story_id.is_not(None),
                ArticleRow.id > after_id,
                ArticleRow.features != "",
            )
            .order_by(ArticleRow.id)
        )
        return [(r[0], r[1], json.loads(r[2]), aware(r[3])) for r in rows]

    def insert_stories(self, session: Session, stories: list[tuple[int, str]], when: datetime) -> None:
        """(id, title) rows, first and last seen now."""
        if stories:
            session.execute(
                StoryRow.__table__.insert(),
                [{"id": i, "title": title, "first_seen": utc(when), "last_seen": utc(when)} for i, title in stories],
            )

    def touch_stories(self, session: Session, story_ids: Iterable[int], when: datetime) -> None:
        """Stories that grew were last seen now."""
        for chunk in _chunks(sorted(set(story_ids))):
            session.execute(update(StoryRow.__table__).where(StoryRow.__table__.c.id.in_(chunk)).values(last_seen=utc(when)))

    def new_story(self, session: Session, title: str, when: datetime) -> int:
        story_id = next(self.next_ids(session, "story", 1))
        self.insert_stories(session, [(story_id, title)], when)
        return story_id

    def attach(self, session: Session, article_id: int, story_id: int, when: datetime, features: dict | None = None) -> None:
        values: dict = {"story_id": story_id}
        if features is not None:
            values["features"] = json.dumps(features)
        session.execute(update(ArticleRow.__table__).where(ArticleRow.__table__.c.id == article_id).values(**values))
        self.touch_stories(session, [story_id], when)

    # ---- matches and the outbox --------------------------------------------------------
    def record_matches(self, session: Session, matches: Sequence["NewMatch"], when: datetime) -> int:
        """Store matches and queue one delivery per target unless the story was already queued. Returns new deliveries.

        The delivery rows are written in the same transaction as the matches: nothing is sent before they exist.
        """
        if not matches:
            return 0
        session.execute(
            MatchRow.__table__.insert(),
            [
                {
                    "watch": m.watch, "article_id": m.article_id, "story_id": m.story_id, "clause": m.clause, "created": utc(when),
                    "hits": json.dumps([h.__dict__ for h in m.hits], ensure_ascii=False),
                }
                for m in matches
            ],
        )
        table = Delivery.__table__
        queued: set[tuple[str, int, str]] = set()
        for chunk in _chunks(sorted({m.story_id for m in matches if m.targets})):
            queued.update(
                tuple(r) for r in session.execute(select(table.c.watch, table.c.story_id, table.c.target).where(table.c.story_id.in_(chunk)))
            )
        rows = []
        for m in matches:
            for target in dict.fromkeys(m.targets):
                key = (m.watch, m.story_id, target)
                if key not in queued:
                    queued.add(key)
                    rows.append(
                        {
                            "watch": m.watch, "story_id": m.story_id, "target": target, "seq": 0, "mode": (m.modes or {}).get(target, "instant"),
                            "status": "pending", "attempts": 0, "last_error": "", "done_urls": "[]", "claimed_by": "",
                            "created": utc(when), "retry_base": utc(when), "next_attempt": utc(when),
                        }
                    )
        if rows:
            session.execute(table.insert(), rows)
        return len(rows)

    def record_match(
        self,
        session: Session,
        watch: str,
        article_id: int,
        story_id: int,
        hits: Iterable[Hit],
        targets: Iterable[str],
        when: datetime,
        clause: str = "",
        modes: dict[str, str] | None = None,
    ) -> int:
        return self.record_matches(session, [NewMatch(watch, article_id, story_id, tuple(hits), tuple(targets), clause, modes)], when)

    def pending_deliveries(self, limit: int = 5000) -> list[PendingDelivery]:
        """Every pending delivery, oldest first; the sender decides what is due."""
        with Session(self.engine) as s:
            rows = list(s.exec(select(Delivery).where(Delivery.status == "pending").order_by(Delivery.id).limit(limit)))
            out = []
            for r in rows:
                previous = None
                if r.seq > 0:
                    previous = s.exec(
                        select(func.max(Delivery.sent_at)).where(
                            Delivery.watch == r.watch, Delivery.story_id == r.story_id, Delivery.target == r.target, Delivery.seq < r.seq
                        )
                    ).one()
                out.append(
                    PendingDelivery(
                        r.id, r.watch, r.story_id, r.target, r.attempts, r.seq, aware(previous), r.mode,  # type: ignore[arg-type]
                        aware(r.created), aware(r.retry_base), aware(r.next_attempt), tuple(json.loads(r.done_urls)),
                    )
                )
            return out

    def deliveries(self, status: str | None = None, limit: int = 1000) -> list[Delivery]:
        with Session(self.engine) as s:
            q = select(Delivery)
            if status is not None:
                q = q.where(Delivery.status == status)
            rows = list(s.exec(q.order_by(Delivery.id.desc()).limit(limit)))
            for r in rows:
                r.created, r.next_attempt, r.sent_at, r.retry_base = aware(r.created), aware(r.next_attempt), aware(r.sent_at), aware(r.retry_base)
            return rows

    def retry(self, now: datetime, ids: Iterable[int] | None = None) -> int:
        """Re-queue failed deliveries (the given ones, or all): pending now, with a fresh give-up clock."""
        with Session(self.engine) as s:
            q = select(Delivery).where(Delivery.status == "failed")
            if ids is not None:
                q = q.where(Delivery.id.in_(list(ids)))
            rows = list(s.exec(q))
            for r in rows:
                r.status, r.next_attempt, r.retry_base = "pending", utc(now), utc(now)
                s.add(r)
            s.commit()
            return len(rows)

    def claim(self, ids: Iterable[int], now: datetime, lease: timedelta = timedelta(minutes=5)) -> list[int]:
        """Take pending deliveries for sending; returns those this process got.

        Row locks (FOR UPDATE SKIP LOCKED on PostgreSQL) plus a conditional update, so two daemons
        on one database never both take a row; a claim expires after the lease if its sender died.
        """
        ids = list(ids)
        if not ids:
            return []
        free = and_(
            Delivery.id.in_(ids),
            Delivery.status == "pending",
            or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < utc(now)),
        )
        self._release_dead_claims(ids, now)
        with Session(self.engine) as s:
            locked = list(s.exec(select(Delivery.id).where(free).with_for_update(skip_locked=True)))
            if not locked:
                return []
            got = s.execute(
                update(Delivery)
                .where(free, Delivery.id.in_(locked))
                .values(claimed_until=utc(now + lease), claimed_by=CLAIMANT)
                .returning(Delivery.id)
            )
            claimed = sorted(row[0] for row in got)
            s.commit()
            return claimed

    def _release_dead_claims(self, ids: list[int], now: datetime) -> None:
        """Claims held by a process of this host that no longer exists (kill -9, a crash) are void."""
        host = CLAIMANT.rsplit(":", 1)[0]
        with Session(self.engine) as s:
            holders = set(
                s.exec(
                    select(Delivery.claimed_by).where(Delivery.id.in_(ids), Delivery.claimed_until >= utc(now), Delivery.claimed_by != "")
                )
            )
            dead = [h for h in holders if h.rsplit(":", 1)[0] == host and h != CLAIMANT and not _alive(h)]
            if dead:
                s.execute(update(Delivery).where(Delivery.claimed_by.in_(dead)).values(claimed_until=None, claimed_by=""))
                s.commit()

    def url_done(self, ids: Iterable[int], url: str) -> None:
        """One URL of a target got the message: never send it there again, whatever happens next."""
        with Session(self.engine) as s:
            for r in s.exec(select(Delivery).where(Delivery.id.in_(list(ids)))):
                done = json.loads(r.done_urls)
                if url not in done:
                    r.done_urls = json.dumps(done + [url])
                    s.add(r)
            s.commit()

    def mark_sent(self, ids: Iterable[int], target: str, kind: str, when: datetime, digest_key: str = "") -> None:
        ids = list(ids)
        with Session(self.engine) as s:
            for r in s.exec(select(Delivery).where(Delivery.id.in_(ids))):
                r.status, r.sent_at, r.attempts, r.last_error, r.claimed_until, r.claimed_by = "sent", utc(when), r.attempts + 1, "", None, ""
                s.add(r)
            s.add(SentMessage(target=target, kind=kind, digest_key=digest_key, at=utc(when), deliveries=len(ids)))
            s.commit()

    def mark_failed(self, ids: Iterable[int], error: str, retry_at: datetime, give_up: bool = False) -> None:
        with Session(self.engine) as s:
            for r in s.exec(select(Delivery).where(Delivery.id.in_(list(ids)))):
                r.attempts += 1
                r.last_error = error[:2000]
                r.next_attempt = utc(retry_at)
                r.claimed_until, r.claimed_by = None, ""
                if give_up:
                    r.status = "failed"
                s.add(r)
            s.commit()

    def log_message(self, target: str, kind: str, when: datetime) -> None:
        with Session(self.engine) as s:
            s.add(SentMessage(target=target, kind=kind, at=utc(when)))
            s.commit()

    def messages_since(self, target: str, since: datetime) -> int:
        with Session(self.engine) as s:
            return s.exec(select(func.count()).select_from(SentMessage).where(SentMessage.target == target, SentMessage.at > utc(since))).one()

    def last_digest(self, target: str, digest_key: str) -> datetime | None:
        with Session(self.engine) as s:
            return aware(
                s.exec(select(func.max(SentMessage.at)).where(SentMessage.target == target, SentMessage.digest_key == digest_key)).one()
            )

    def queue_updates(self, session: Session, story_id: int, now: datetime, watches: set[str], every: timedelta = timedelta(hours=1)) -> int:
        """A story grew: queue one follow-up per (watch with updates, target) already alerted, at most hourly."""
        if not watches:
            return 0
        rows = session.exec(
            select(Delivery).where(Delivery.story_id == story_id, Delivery.watch.in_(sorted(watches))).order_by(Delivery.seq)
        )
        latest: dict[tuple[str, str], Delivery] = {}
        for r in rows:
            latest[(r.watch, r.target)] = r
        queued = 0
        for (watch, target), last in latest.items():
            if last.status != "sent" or last.sent_at is None:
                continue  # the pending message will list the new article anyway
            session.add(
                Delivery(
                    watch=watch, story_id=story_id, target=target, seq=last.seq + 1, mode="instant",
                    created=utc(now), retry_base=utc(now), next_attempt=max(utc(now), utc(last.sent_at) + every),
                )
            )
            queued += 1
        return queued

    def hits_for(self, watch: str, story_id: int) -> tuple[list[Hit], list[str]]:
        """The evidence of a watch on a story: matched words with snippets, and the clauses that held."""
        with Session(self.engine) as s:
            rows = s.exec(
                select(MatchRow.hits, MatchRow.clause).where(MatchRow.watch == watch, MatchRow.story_id == story_id).order_by(MatchRow.id)
            )
            hits: dict[tuple[str, str, str], Hit] = {}
            clauses: dict[str, None] = {}
            for raw, clause in rows:
                if clause:
                    clauses[clause] = None
                for h in json.loads(raw):
                    hit = Hit(**h)
                    hits.setdefault((hit.term, hit.field, hit.snippet), hit)
            return list(hits.values()), list(clauses)

    # ---- replay ------------------------------------------------------------------------
    def articles_since(self, since: datetime, batch: int = 500) -> Iterator[ArticleRow]:
        """Stored articles fetched since a time, oldest first, read in batches."""
        last_id = 0
        while True:
            with Session(self.engine) as s:
                rows = list(
                    s.exec(
                        select(ArticleRow)
                        .where(ArticleRow.fetched >= utc(since), ArticleRow.id > last_id)
                        .order_by(ArticleRow.id)
                        .limit(batch)
                    )
                )
            if not rows:
                return
            yield from rows
            last_id = rows[-1].id  # type: ignore[assignment]

    def article_by_url(self, *urls: str) -> ArticleRow | None:
        with Session(self.engine) as s:
            return s.exec(
                select(ArticleRow).where(or_(ArticleRow.url.in_(urls), ArticleRow.canonical_url.in_(urls))).order_by(ArticleRow.id)
            ).first()

    # ---- stories -----------------------------------------------------------------------
    def stories(self, since: datetime | None = None, ids: Iterable[int] | None = None) -> list[StoryView]:
        """Stories seen since a time (or by id), newest first, each with its articles."""
        with Session(self.engine) as s:
            q = select(StoryRow)
            if since is not None:
                q = q.where(StoryRow.last_seen >= utc(since))
            if ids is not None:
                q = q.where(StoryRow.id.in_(list(ids)))
            stories = list(s.exec(q.order_by(StoryRow.first_seen.desc(), StoryRow.id.desc())))
            if not stories:
                return []
            arts = s.exec(
                select(
                    ArticleRow.story_id, ArticleRow.canonical_url, ArticleRow.source, ArticleRow.language,
                    ArticleRow.title, ArticleRow.published, ArticleRow.fetched,
                )
                .where(ArticleRow.story_id.in_([st.id for st in stories]))
                .order_by(ArticleRow.fetched, ArticleRow.id)
            )
            grouped: dict[int, list[StoryArticle]] = {}
            for sid, url, source, lang, title, published, fetched in arts:
                grouped.setdefault(sid, []).append(StoryArticle(url, source, lang, title, aware(published), aware(fetched)))
            return [StoryView(st.id, st.title, aware(st.first_seen), tuple(grouped.get(st.id, ()))) for st in stories]  # type: ignore[arg-type]

    def story(self, story_id: int) -> StoryView | None:
        found = self.stories(ids=[story_id])
        return found[0] if found else None

    def pending_count(self) -> int:
        with Session(self.engine) as s:
            return s.exec(select(func.count()).select_from(Delivery).where(Delivery.status == "pending")).one()

    def counts(self) -> dict[str, int]:
        with Session(self.engine) as s:
            return {
                "articles": s.exec(select(func.count()).select_from(ArticleRow)).one(),
                "stories": s.exec(select(func.count()).select_from(StoryRow)).one(),
                "pending": s.exec(select(func.count()).select_from(Delivery).where(Delivery.status == "pending")).one(),
                "sent": s.exec(select(func.count()).select_from(Delivery).where(Delivery.status == "sent")).one(),
                "failed": s.exec(select(func.count()).select_from(Delivery).where(Delivery.status == "failed")).one(),
            }

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)


CLAIMANT = f"{socket.gethostname()}:{os.getpid()}"


def _alive(claimant: str) -> bool:
    try:
        os.kill(int(claimant.rsplit(":", 1)[1]), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True  # someone else's process, alive
    return True


def retry_delay(attempts: int, jitter: float = 0.0) -> timedelta:
    """1, 2, 4, ... minutes, at most an hour; jitter in [-1, 1] spreads retries by up to 20%."""
    base = min(2 ** max(attempts, 0), 60) * 60.0
    return timedelta(seconds=base * (1 + 0.2 * jitter))
