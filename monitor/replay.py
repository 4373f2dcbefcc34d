"""Tuning watches on stored articles: `monitor test-watch` and `monitor explain`."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Iterable

from monitor.match import CompiledWatch, Verdict, Watchlist
from monitor.store import ArticleRow
from monitor.types import Hit


@dataclass
class ReplayedArticle:
    url: str
    source: str
    language: str
    title: str
    published: datetime | None
    clause: str
    hits: list[Hit]


@dataclass
class ReplayedStory:
    id: int | None
    title: str
    articles: list[ReplayedArticle] = field(default_factory=list)


@dataclass
class Replay:
    watch: str
    scanned: int = 0
    per_day: Counter[str] = field(default_factory=Counter)
    stories: dict[int | None, ReplayedStory] = field(default_factory=dict)

    @property
    def matched(self) -> int:
        return sum(self.per_day.values())

    def as_json(self, since: datetime) -> dict[str, Any]:
        def article(a: ReplayedArticle) -> dict[str, Any]:
            return {**asdict(a), "published": a.published.isoformat() if a.published else None, "hits": [asdict(h) for h in a.hits]}

        return {
            "watch": self.watch,
            "since": since.isoformat(),
            "articles_scanned": self.scanned,
            "matched": self.matched,
            "per_day": dict(sorted(self.per_day.items())),
            "stories": [{"id": s.id, "title": s.title, "articles": [article(a) for a in s.articles]} for s in self.stories.values()],
        }


def replay(watch: CompiledWatch, articles: Iterable[ArticleRow], story_titles: dict[int, str] | None = None) -> Replay:
    """Run one watch over stored articles: what it would have matched, per day and per story."""
    watchlist = Watchlist([watch])
    out = Replay(watch.name)
    for row in articles:
        out.scanned += 1
        for m in watchlist.match(row.title, row.text, row.language, row.source):
            when = row.published or row.fetched
            out.per_day[when.date().isoformat()] += 1
            story = out.stories.setdefault(
                row.story_id, ReplayedStory(row.story_id, (story_titles or {}).get(row.story_id or -1, row.title))
            )
            story.articles.append(
                ReplayedArticle(row.canonical_url, row.source, row.language, row.title, row.published, m.clause, list(m.hits))
            )
    return out


def explain_article(watchlist: Watchlist, row: ArticleRow) -> list[Verdict]:
    return watchlist.verdicts(row.title, row.text, row.language, row.source)
