"""Scrapy spiders of the news monitor: `feed` for RSS/Atom, `listing` for outlets without a feed.

A normal Scrapy project (see scrapy.cfg here): `scrapy list`, `scrapy check` and
`scrapy crawl feed -a url=... -a language=ro` work from this folder. The daemon
runs the same spiders through monitor.crawl.
"""
