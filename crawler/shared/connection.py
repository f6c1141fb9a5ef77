"""Connecting to Redis, and a Redis URL fit to print: its password may be in it."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis


class RedisUnavailable(ConnectionError):
    """Redis cannot be reached or refuses us; the message names it with its password masked."""


def connect(url: str) -> redis.Redis:
    """A client for *url* (redis://, rediss:// or unix://), bytes in and out, checked with a PING.
    Bounded waits: a Redis that stopped answering fails a worker, it does not hang it."""
    try:
        client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10, health_check_interval=30)
        client.ping()
    except (redis.RedisError, ValueError) as exc:  # redis-py's messages name the host, never the password
        raise RedisUnavailable(f"cannot reach Redis at {masked(url)}: {exc}") from None
    return client


def masked(url: str) -> str:
    """*url* with its password (and user) replaced by ***: 'redis://:***@10.0.0.5:6379/0'."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    credentials, _, where = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=("***" if credentials else "") + "@" + where))


def text(reply) -> str:
    """A Redis reply as text: the client gives bytes (it decodes nothing); a missing key, ''."""
    if reply is None:
        return ""
    return reply.decode() if isinstance(reply, bytes) else str(reply)
