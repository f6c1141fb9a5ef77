"""Scrapy settings for tipwatch: polite by default (robots.txt, AutoThrottle, an honest
User-Agent), bounded (timeouts, retries, size caps) so one bad site cannot stall a run.

Plain defaults: this module reads no environment. tipwatch's configuration (tipwatch/config.py)
sets the TIPWATCH_* settings below for a crawl; `scrapy crawl` gets them through
tipwatch/scrapy_settings.py (scrapy.cfg)."""

BOT_NAME = "tipwatch"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

USER_AGENT = "tipwatch/0.1 (news monitoring for anti-trafficking research; respects robots.txt)"
ROBOTSTXT_OBEY = True
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy's remote control runs code sent over HTTP (token-protected, on localhost); a scheduled
# crawler needs no such door, nor its aiohttp server's start-up time and memory
REMOTE_CONTROL_ENABLED = False

AUTOTHROTTLE_ENABLED = True
# the delay before AutoThrottle has measured a site: after the first answers it moves to the
# site's own latency ÷ the target concurrency, whatever the start. A crawl opens with a few index
# pages (robots.txt, feeds, sitemaps), which a 1 s start spaced out to seconds of idle time.
AUTOTHROTTLE_START_DELAY = 0.25
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
# Scrapy starts this many asyncio tasks for every callback's output, however small: an article
# page yields one item, so the default (100) cost ~3 ms of reactor time per article. A sitemap's
# hundreds of links still go through 16 at a time, which only schedules them.
CONCURRENT_ITEMS = 16
# Fetched pages wait here for an extraction worker; Scrapy stops sending requests while more than
# this many bytes of pages wait. Its default (5 MB) let ~55 pages (and their memory) queue for two
# workers that each take one page at a time; the 16 downloads in flight keep them fed anyway.
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 2_000_000

DOWNLOAD_TIMEOUT = 20
RETRY_ENABLED = True
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 5
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
DNS_TIMEOUT = 10

# Only http and https are ever fetched: a feed item or redirect naming file:///etc/passwd, s3://,
# ftp:// or data: finds no handler at all (and the fetch-scope guard refuses it first)
DOWNLOAD_HANDLERS = {"file": None, "s3": None, "ftp": None, "data": None}
# Every resolved address is checked before connecting (crawler/addresses.py)
TWISTED_DNS_RESOLVER = "crawler.addresses.GuardedResolver"
# A proxy would resolve and connect in our place, out of the address guard's sight: off unless
# an operator turns it on (-s HTTPPROXY_ENABLED=1) and allows the proxy's address
HTTPPROXY_ENABLED = False
# Longer URLs are not requested (the spider records each one as `url-too-long`)
URLLENGTH_LIMIT = 2083

ITEM_PIPELINES = {"crawler.pipelines.ArticlePipeline": 300}
# one log line per TIPWATCH_PROGRESS_EVERY article pages of a source (crawler/progress.py)
EXTENSIONS = {"crawler.progress.CrawlProgress": 500}
DOWNLOADER_MIDDLEWARES = {
    # the fetch scope, first of all and before robots.txt is fetched (crawler/guard.py)
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "crawler.guard.ScopeMiddleware": 50,
    # a 3xx out of scope, in a loop or too long a chain, refused before Scrapy follows it
    # (before RedirectAliasMiddleware, which would count a loop's return as a duplicate)
    "crawler.guard.RedirectGuardMiddleware": 660,
    # robots.txt read as RFC 9309 says; Retry-After honoured per host (crawler/politeness.py)
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.politeness.RobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.politeness.RetryAfterMiddleware": 550,
    # after Scrapy's RedirectMiddleware (600) in request order, so before it in response order
    "crawler.middlewares.RedirectAliasMiddleware": 650,
    # If-None-Match / If-Modified-Since on index pages (crawler/conditional.py)
    "crawler.conditional.ConditionalIndexMiddleware": 640,
    # Scrapy's meta-refresh redirects, in their place, without decoding every page to find them
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.MetaRefreshMiddleware": 580,
}
LOG_LEVEL = "INFO"
# drops and item errors name the page's URL instead of printing the page (crawler/logformatter.py)
LOG_FORMATTER = "crawler.logformatter.PageLogFormatter"

# tipwatch's own settings; its configuration sets the paths (database, sources, profile, seeds,
# cache, WARC folder), as the CLI's --db/--sources/--profile do
TIPWATCH_DB = None
TIPWATCH_SOURCES = None
TIPWATCH_PROFILE = None
TIPWATCH_SEEDS_DIR = None
TIPWATCH_CACHE_DIR = None
# an operator's translation model for the gists of Vietnamese pages (pipeline/enrich/translate.py)
TIPWATCH_TRANSLATOR = ""
TIPWATCH_MT_DIR = ""
TIPWATCH_LOOKBACK_DAYS = 7
TIPWATCH_EXTRACT_WORKERS = 0  # 0: one per core
TIPWATCH_MIN_CHARS = 200
# seconds one page may spend in an extraction worker before it is given up for the run and the
# worker killed (a first page's wait includes the worker's start-up, a few seconds)
TIPWATCH_EXTRACT_TIMEOUT = 120
# addresses the crawl may connect to although they are loopback or private (comma-separated IPs
# or networks); the sources file's `allow_addresses` adds to it. Empty: public addresses only.
TIPWATCH_ALLOW_ADDRESSES = ""
# sitemap documents one source may read in one run, and how deep indexes may nest
TIPWATCH_MAX_SITEMAPS = 200
TIPWATCH_MAX_SITEMAP_DEPTH = 3
# the longest Retry-After (s) a crawl waits for; a longer one gives the URL up for the run
TIPWATCH_RETRY_AFTER_MAX = 120
# fetched pages kept as WARC files (pipeline/archive): where, and for how many days; the pages of
# flagged articles are kept until deleted by hand
TIPWATCH_WARC_DIR = None
TIPWATCH_WARC_RETENTION_DAYS = 90
TIPWATCH_WARC_KEEP_FLAGGED = True
