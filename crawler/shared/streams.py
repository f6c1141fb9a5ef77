"""Redis Streams with consumer groups: the work between stages.

An entry is read by one consumer of its group and stays pending until acknowledged; the
consumer acknowledges it in the same MULTI as the output it made of it (the next stage's entry,
or the writer's commit having happened before), and deletes it then, so a stream holds only
work not yet done and its length is the stage's backlog. A consumer that dies (SIGKILL, a lost
machine) leaves its entries pending: after `claim_after_s` another consumer of the group takes
them over (XAUTOCLAIM) and does them again, which the writer's idempotence makes harmless.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import redis

from pipeline.records import FetchedPage, PageRef


@dataclass
class Backlog:
    waiting: int   # entries in the stream: not yet read, or read and not yet acknowledged
    pending: int   # of which read by a consumer and not acknowledged


class Stream:
    def __init__(self, conn, key: str, group: str):
        self.conn, self.key, self.group = conn, key, group

    def ensure_group(self) -> None:
        try:
            self.conn.xgroup_create(self.key, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def add(self, fields: dict, pipe=None) -> None:
        (pipe if pipe is not None else self.conn).xadd(self.key, fields)

    def read(self, consumer: str, count: int, block_ms: int) -> list[tuple[bytes, dict]]:
        """Up to *count* new entries for *consumer* (waiting up to *block_ms* for one)."""
        answer = self.conn.xreadgroup(self.group, consumer, {self.key: ">"}, count=count, block=block_ms)
        return [(entry_id, fields) for _, entries in answer or () for entry_id, fields in entries if fields]

    def own_pending(self, consumer: str, count: int) -> list[tuple[bytes, dict]]:
        """Entries delivered to *consumer* before and not acknowledged (a restarted consumer's)."""
        answer = self.conn.xreadgroup(self.group, consumer, {self.key: "0"}, count=count)
        return [(entry_id, fields) for _, entries in answer or () for entry_id, fields in entries if fields]

    def claim(self, consumer: str, idle_ms: int, count: int) -> list[tuple[bytes, dict]]:
        """Entries pending with another consumer for over *idle_ms*, now *consumer*'s."""
        answer = self.conn.xautoclaim(self.key, self.group, consumer, min_idle_time=idle_ms, start_id="0-0",
                                      count=count)
        return [(entry_id, fields) for entry_id, fields in answer[1] if fields]

    def done(self, entry_ids, pipe) -> None:
        """Acknowledge and delete *entry_ids*, in *pipe* (the transaction carrying their output)."""
        if entry_ids:
            pipe.xack(self.key, self.group, *entry_ids)
            pipe.xdel(self.key, *entry_ids)

    def backlog(self) -> Backlog:
        waiting = self.conn.xlen(self.key)
        try:
            pending = self.conn.xpending(self.key, self.group)["pending"]
        except redis.ResponseError:  # no group yet
            pending = 0
        return Backlog(waiting, pending)


# ---------------------------------------------------------------- the records

def page_fields(page: FetchedPage, ref: PageRef | None, language: str | None, timezone: str | None) -> dict:
    """A fetched page as a pages-stream entry: its record, where it is archived, and its
    source's language and timezone (so a process worker needs no sources file)."""
    meta = {"source": page.source, "requested_url": page.requested_url, "url": page.url, "status": page.status,
            "headers": page.headers, "fetched_at": page.fetched_at, "aliases": page.aliases,
            "ref": [ref.file, ref.offset] if ref else None, "language": language, "timezone": timezone}
    return {b"meta": json.dumps(meta), b"body": page.body}


def read_page(fields: dict) -> tuple[FetchedPage, PageRef | None, dict]:
    """(the page, its archive reference, the rest of its meta) of a pages-stream entry."""
    meta = json.loads(fields[b"meta"])
    page = FetchedPage(source=meta["source"], requested_url=meta["requested_url"], url=meta["url"],
                       status=meta["status"], headers=tuple(tuple(h) for h in meta["headers"]),
                       body=fields[b"body"], fetched_at=meta["fetched_at"], aliases=tuple(meta["aliases"]))
    ref = PageRef(*meta["ref"]) if meta.get("ref") else None
    return page, ref, meta


def record_fields(kind: str, data: dict) -> dict:
    """A records-stream entry: kind (article, error, settle, aliases, validator, forget-validators)."""
    return {b"kind": kind, b"data": json.dumps(data, ensure_ascii=False, default=str)}


def read_record(fields: dict) -> tuple[str, dict]:
    return fields[b"kind"].decode(), json.loads(fields[b"data"])
