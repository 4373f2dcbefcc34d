"""RSS/Atom sources: the feed through feedparser, article pages for full text where the feed has a teaser."""

from __future__ import annotations

import hashlib
import re
from typing import Any, AsyncIterator

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from monitor.extract import extract_page, needs_fulltext, parse_feed
from monitor.types import RawDocument
from spiders.base import MonitorSpider


_BLOCK_PAGE = re.compile(r"captcha|cloudflare|access denied|are you a robot|verify you are human|ddos protection|just a moment", re.I)


class FeedSpider(MonitorSpider):
    name = "feed"

    def __init__(self, *args: Any, fulltext: bool | str = True, validators: dict[str, str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fulltext = fulltext not in (False, "false", "0", "no")
        self.validators = dict(validators or {})  # in: from the last fetch; out: from this one
        self.not_modified = False

    async def start(self) -> AsyncIterator[Any]:
        headers = {}
        if self.validators.get("etag"):
            headers["If-None-Match"] = self.validators["etag"]
        if self.validators.get("last_modified"):
            headers["If-Modified-Since"] = self.validators["last_modified"]
        yield scrapy.Request(
            self.url,
            callback=self.parse,
            errback=self.source_failed,
            dont_filter=True,
            headers=headers,
            meta={"dont_obey_robotstxt": True, "dont_retry": True, "handle_httpstatus_list": [304]},
        )

    def parse(self, response: Response, **kwargs: Any) -> Any:
        """A teaser-only entry becomes a request for its article page.

        @url data:application/rss+xml;base64,PD94bWwgdmVyc2lvbj0iMS4wIiBlbmNvZGluZz0idXRmLTgiPz48cnNzIHZlcnNpb249IjIuMCI+PGNoYW5uZWw+PHRpdGxlPnQ8L3RpdGxlPjxpdGVtPjx0aXRsZT5CaciZa2VrPC90aXRsZT48bGluaz5odHRwOi8vZXhhbXBsZS5vcmcvc3RpcmkvYS0xPC9saW5rPjxkZXNjcmlwdGlvbj50ZWFzZXI8L2Rlc2NyaXB0aW9uPjwvaXRlbT48L2NoYW5uZWw+PC9yc3M+
        @returns requests 1 1
        @returns items 0 0
        """
        if response.status == 304:
            self.not_modified = True
            return
        # a server that ignores conditional requests: the same bytes again are not parsed again
        digest = hashlib.blake2b(response.body, digest_size=16).hexdigest()
        if digest == self.validators.get("hash"):
            self.not_modified = True
        self.validators = {
            key: response.headers.get(header, b"").decode("latin-1")
            for key, header in (("etag", "ETag"), ("last_modified", "Last-Modified"))
            if response.headers.get(header)
        }
        self.validators["hash"] = digest
        if self.not_modified:
            return
        content_type = response.headers.get("Content-Type", b"").decode("latin-1")
        result = parse_feed(response.body, response.url, self.source, self.language, content_type)
        if result.error:
            looks_blocked = "html" in content_type.lower() and _BLOCK_PAGE.search(response.text[:20000] if hasattr(response, "text") else "")
            self.fail(result.error if not looks_blocked else f"an anti-bot or access page instead of the feed ({response.url})",
                      "blocked" if looks_blocked else "parse")
            return
        if result.warning:
            self.logger.warning("%s: %s", self.source, result.warning)
        self.items_seen = len(result.documents)
        for doc in result.documents:
            if self.is_known(doc.url, doc.guid):
                yield doc  # lets the store keep the newest headline; it is not new
            elif self.fulltext and needs_fulltext(doc):
                yield scrapy.Request(doc.url, callback=self.parse_article, errback=self.article_failed, cb_kwargs={"doc": doc})
            else:
                yield doc

    def parse_article(self, response: Response, doc: RawDocument) -> Any:
        page = extract_page(response.body, response.url)
        if len(page.text.split()) > len(doc.text.split()):
            doc.text = page.text
        doc.canonical_url = page.canonical_url and response.urljoin(page.canonical_url)
        doc.published = doc.published or page.published
        doc.title = doc.title or page.title
        yield doc

    def article_failed(self, failure: Failure) -> Any:
        doc: RawDocument = failure.request.cb_kwargs["doc"]
        self.logger.info("%s: full text of %s not fetched (%s); keeping the feed text", self.source, doc.url, failure.getErrorMessage())
        yield doc
