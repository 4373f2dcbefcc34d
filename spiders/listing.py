"""Outlets without a feed: a listing page, the links on it that are articles, and each article's main text."""

from __future__ import annotations

import re
from typing import Any, AsyncIterator
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response

from monitor.extract import extract_page
from monitor.types import RawDocument
from spiders.base import MonitorSpider


class ListingSpider(MonitorSpider):
    name = "listing"

    def __init__(self, *args: Any, link_pattern: str | None = None, link_selector: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.link_pattern = re.compile(link_pattern) if link_pattern else None
        self.link_selector = link_selector

    async def start(self) -> AsyncIterator[Any]:
        yield scrapy.Request(self.url, callback=self.parse, errback=self.source_failed, dont_filter=True, meta={"dont_retry": True})

    def article_links(self, response: Response) -> list[str]:
        if self.link_selector:
            hrefs = response.css(self.link_selector).xpath("descendant-or-self::a/@href").getall()
        else:
            hrefs = response.css("a::attr(href)").getall()
        host = urlsplit(response.url).netloc
        links: list[str] = []
        for href in hrefs:
            url = response.urljoin(href.strip()).split("#", 1)[0]
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or parts.netloc != host:
                continue
            if self.link_pattern is not None and not self.link_pattern.search(url):
                continue
            if url not in links:
                links.append(url)
        return links

    def parse(self, response: Response, **kwargs: Any) -> Any:
        """Article links become requests; a page without any yields nothing.

        @url data:text/html;base64,PGh0bWw+PGJvZHk+PHA+bm8gbGlua3MgaGVyZTwvcD48L2JvZHk+PC9odG1sPg==
        @returns requests 0 0
        @returns items 0 0
        """
        links = self.article_links(response)
        self.items_seen = len(links)
        for url in links:
            if not self.is_known(url):
                yield scrapy.Request(url, callback=self.parse_article, errback=self.page_failed)

    def parse_article(self, response: Response) -> Any:
        page = extract_page(response.body, response.url)
        if not page.text:
            self.logger.info("%s: no article text found on %s", self.source, response.url)
            return
        yield RawDocument(
            source=self.source,
            url=response.url,
            language=self.language,
            title=page.title,
            text=page.text,
            canonical_url=page.canonical_url and response.urljoin(page.canonical_url),
            published=page.published,
        )
