"""Each worker's heartbeat: a small hash that expires unless renewed, so a worker that died
(SIGKILL, a lost machine) disappears from `tipwatch status` and from the orchestrator's count
within HEARTBEAT_TTL_S."""
from __future__ import annotations

import os
import socket
import time

# a fetch worker busy in one huge sitemap (50,000 links, a Redis round trip or three each) must
# not pass for dead; the orchestrator forgets its own dead children at once, whatever this says
HEARTBEAT_TTL_S = 30


def beat(conn, keys, name: str, role: str, **fields) -> None:
    values = {"role": role, "pid": os.getpid(), "host": socket.gethostname(), "beat": f"{time.time():.3f}",
              **{key: str(value) for key, value in fields.items()}}
    pipe = conn.pipeline(transaction=True)
    pipe.hset(keys.worker(name), mapping=values)
    pipe.expire(keys.worker(name), HEARTBEAT_TTL_S)
    pipe.sadd(keys.workers, name)
    pipe.execute()


def forget(conn, keys, name: str) -> None:
    pipe = conn.pipeline(transaction=True)
    pipe.delete(keys.worker(name))
    pipe.srem(keys.workers, name)
    pipe.execute()


def heartbeats(conn, keys) -> list[dict]:
    """The live workers' heartbeats (name, role, pid, host, age_s and their own fields), by name;
    the names of workers whose heartbeat expired are dropped from the set."""
    now, rows = time.time(), []
    for raw in sorted(conn.smembers(keys.workers)):
        name = raw.decode()
        values = {k.decode(): v.decode() for k, v in conn.hgetall(keys.worker(name)).items()}
        if not values:
            conn.srem(keys.workers, name)
            continue
        values["name"] = name
        values["age_s"] = round(now - float(values.get("beat", now)), 1)
        rows.append(values)
    return rows
