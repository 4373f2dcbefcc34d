"""Plain values passed between the stages: RawDocument -> Article -> Match -> Alert."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class RawDocument:
    """What a spider hands over: one article as a source presented it."""

    source: str
    url: str
    language: str
    title: str = ""
    text: str = ""  # main text, already stripped of page furniture
    summary: str = ""
    guid: str = ""
    canonical_url: str = ""
    published: datetime | None = None


@dataclass(frozen=True)
class Article:
    """A normalised article, ready to be stored, grouped and matched."""

    source: str
    url: str
    canonical_url: str
    guid: str
    language: str
    title: str
    text: str
    published: datetime | None
    fetched: datetime
    fingerprint: str  # hash of the folded text, for exact re-publications


@dataclass(frozen=True)
class Hit:
    """One matched term: where it was found and the words around it."""

    term: str
    field: str  # "title" or "text"
    snippet: str  # the surrounding text with the matched words in [[ ]] markers


@dataclass(frozen=True)
class Match:
    watch: str
    hits: tuple[Hit, ...] = field(default=())
    clause: str = ""  # the part of the query that matched, e.g. '"mandat de arestare" AND ICC'


@dataclass(frozen=True)
class StoryArticle:
    url: str
    source: str
    language: str
    title: str
    published: datetime | None
    fetched: datetime | None = None


@dataclass(frozen=True)
class Alert:
    """One message to deliver: a watch fired on a story, for one target."""

    delivery_id: int
    watch: str
    target: str
    story_id: int
    story_title: str
    articles: tuple[StoryArticle, ...]
    hits: tuple[Hit, ...]
    clauses: tuple[str, ...] = ()  # which part of the watch matched
    update_since: datetime | None = None  # a follow-up: articles collected after this time are the news
