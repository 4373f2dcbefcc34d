"""Scrapy settings shared by `scrapy crawl` in this folder and by the daemon."""

from monitor import __version__

BOT_NAME = "newsmonitor"
SPIDER_MODULES = ["spiders.feed", "spiders.listing"]
NEWSPIDER_MODULE = "spiders"

USER_AGENT = f"newsmonitor/{__version__} (news monitoring bot; polite, obeys robots.txt)"
ROBOTSTXT_OBEY = True  # feed requests opt out per request: a feed is subscribed to, not crawled
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0
DOWNLOAD_TIMEOUT = 20
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
CONCURRENT_ITEMS = 1  # no item pipelines: a worker task per output element would be pure overhead
RETRY_TIMES = 1  # the scheduler retries whole sources on its next tick
REDIRECT_MAX_TIMES = 5
LOG_LEVEL = "WARNING"
