"""RawDocument -> Article: one spelling of text, one form of URL, UTC dates."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

from monitor.text import nfc, words
from monitor.types import Article, RawDocument

_TRACKING = {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_ga", "ref_src"}


def canonical_url(url: str, base: str = "") -> str:
    """Absolute, lower-case host, no fragment, no tracking parameters (utm_*, fbclid, ...)."""
    url = urljoin(base, url.strip()) if base else url.strip()
    parts = urlsplit(url)
    # filter the raw pairs rather than re-encode them: the remaining query stays byte-for-byte as published
    query = "&".join(
        pair
        for pair in parts.query.split("&")
        if pair and not _is_tracking(pair.split("=", 1)[0])
    )
    netloc = parts.netloc
    if "@" not in netloc:
        netloc = netloc.lower()
    else:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = f"{userinfo}@{host.lower()}"
    if parts.scheme == "http" and netloc.endswith(":80"):
        netloc = netloc[:-3]
    if parts.scheme == "https" and netloc.endswith(":443"):
        netloc = netloc[:-4]
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", query, ""))


def _is_tracking(key: str) -> bool:
    key = unquote_plus(key).lower()
    return key.startswith("utm_") or key in _TRACKING


def fingerprint(title: str, text: str) -> str:
    """Same words in the same order -> same fingerprint, whatever the markup or diacritics."""
    return hashlib.sha1(" ".join(words(text or title)).encode("utf-8")).hexdigest()


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def to_article(doc: RawDocument, fetched: datetime) -> Article:
    title = " ".join(nfc(doc.title).split())
    text = nfc(doc.text or doc.summary).strip()
    canonical = canonical_url(doc.canonical_url, doc.url) if doc.canonical_url else canonical_url(doc.url)
    published = utc(doc.published)
    if published is not None and published > fetched:
        published = fetched  # feeds with clocks or time zones set wrong
    return Article(
        source=doc.source,
        url=doc.url,
        canonical_url=canonical,
        guid=doc.guid.strip(),
        language=doc.language,
        title=title or text[:120],
        text=text,
        published=published,
        fetched=fetched,
        fingerprint=fingerprint(title, text),
    )
