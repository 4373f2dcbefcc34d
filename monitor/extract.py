"""Bytes in, RawDocuments out: feeds through feedparser, article pages through trafilatura.

Pure functions: they never fetch. The spiders hand them response bodies.
"""

from __future__ import annotations

import calendar
import logging
import re
from dataclasses import dataclass, field
from html import unescape
from datetime import datetime, timezone

import feedparser
import lxml.html
import trafilatura

from monitor.types import RawDocument

log = logging.getLogger(__name__)

# Below this many words the feed text is taken for a teaser and the page is fetched.
FULLTEXT_MIN_WORDS = 120


@dataclass
class FeedResult:
    documents: list[RawDocument] = field(default_factory=list)
    error: str | None = None  # the feed could not be read at all
    warning: str | None = None  # read, but damaged (entries salvaged)


def html_to_text(html: str) -> str:
    """Text of an HTML fragment, paragraphs on their own lines."""
    if not html or "<" not in html:
        return _tidy(unescape(html or ""))  # no tags, but entities (&#539; &amp;) still to decode
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return _tidy(unescape(re.sub(r"<[^>]+>", " ", html)))
    for bad in root.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    for block in root.xpath("//p|//br|//div|//li|//h1|//h2|//h3|//h4|//blockquote|//tr"):
        block.tail = "\n" + (block.tail or "")
    return _tidy(root.text_content())


def _tidy(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.replace("\xa0", " ").splitlines())
    return "\n".join(line for line in lines if line)


def _when(entry: feedparser.FeedParserDict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def parse_feed(body: bytes, url: str, source: str, language: str, content_type: str = "") -> FeedResult:
    """Every entry that has a link or an id becomes a RawDocument; damage is reported, not raised."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(body, response_headers=headers)
    except Exception as exc:  # feedparser is robust, but a broken document must never stop a crawl
        return FeedResult(error=f"feed could not be parsed: {exc}")
    result = FeedResult()
    problem = parsed.get("bozo_exception")
    # feedparser flags a missing/odd Content-Type or a charset override as bozo too; the
    # feed itself is fine then (its own base class says so), so that is no damage
    damaged = bool(parsed.bozo) and problem is not None and not isinstance(problem, feedparser.exceptions.ThingsNobodyCaresAboutButMe)
    if not parsed.entries:
        if (damaged and not parsed.get("feed", {}).get("title")) or not parsed.get("version"):
            reason = problem if damaged else "no RSS or Atom document found" + (f" ({problem})" if problem else "")
            result.error = f"not a readable RSS/Atom feed: {reason}"
        return result
    if damaged:
        result.warning = f"damaged feed, entries salvaged: {problem}"
    for entry in parsed.entries:
        link = entry.get("link") or ""
        guid = entry.get("id") or entry.get("guid") or ""
        if not link and guid.startswith(("http://", "https://")):
            link = guid
        if not link.lower().startswith(("http://", "https://")):
            log.debug("%s: entry without a web link skipped: %r", source, entry.get("title"))
            continue
        content = " ".join(c.get("value", "") for c in entry.get("content", []) or [])
        summary = entry.get("summary", "") or ""
        text = html_to_text(content) if content else ""
        summary_text = html_to_text(summary)
        if len(summary_text.split()) > len(text.split()):
            text = summary_text
        result.documents.append(
            RawDocument(
                source=source,
                url=link,
                language=language,
                title=html_to_text(entry.get("title", "") or ""),
                text=text,
                summary=summary_text,
                guid=guid,
                published=_when(entry),
            )
        )
    return result


def needs_fulltext(doc: RawDocument) -> bool:
    return len(doc.text.split()) < FULLTEXT_MIN_WORDS


@dataclass
class Page:
    title: str
    text: str
    canonical_url: str
    published: datetime | None


def extract_page(html: str | bytes, url: str) -> Page:
    """The article on a page: title, main text (no menus, sidebars or footers), canonical URL, date."""
    text = ""
    title = ""
    published = None
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if doc is not None:
        text = _tidy(doc.text or "")
        title = doc.title or ""
        if doc.date:
            try:
                published = datetime.fromisoformat(doc.date).replace(tzinfo=timezone.utc)
            except ValueError:
                published = None
    canonical = ""
    try:
        tree = lxml.html.fromstring(html if isinstance(html, bytes) else html.encode("utf-8"))
        links = tree.xpath('//link[@rel="canonical"]/@href')
        if links:
            canonical = str(links[0]).strip()
        if not title:
            og = tree.xpath('//meta[@property="og:title"]/@content') or tree.xpath("//title/text()")
            title = str(og[0]).strip() if og else ""
    except (lxml.etree.ParserError, ValueError):
        pass
    return Page(title=" ".join(title.split()), text=text, canonical_url=canonical, published=published)
