"""The crawl state of distributed mode, shared through Redis by every worker of one crawl.

The embedded crawl keeps its state in-process over SQLite (crawler/context.py,
`open_local_state`); `open_shared_state` here puts Redis-backed versions in its place:

    keys.py        the names of everything tipwatch keeps in Redis
    connection.py  connecting, and a URL fit to print (its password masked)
    buckets.py     time-bucketed sets that expire: the seen-set and the known-URL set
    frontier.py    scrapy-redis's Scheduler and RFPDupeFilter over those sets; SharedFrontier
    streams.py     Redis Streams with consumer groups between the stages
    recorder.py    what a fetch worker would write to SQLite, sent to the writer as records
    stats.py       per-source counters summed over all workers
    politeness.py  per-host concurrency and delay held over all workers (leases in Redis)
    worker.py      the fetch worker's Scrapy parts: its spider, item pipeline and extension
    heartbeat.py   each worker's heartbeat, read by the orchestrator and `tipwatch status`
"""
