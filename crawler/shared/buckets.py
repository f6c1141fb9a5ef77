"""Sets that do not grow without bound: members go into the bucket of the current time span,
each bucket expires when the last span it covers is over, and membership is asked of the live
buckets. A member is forgotten `span × buckets` seconds after it was added, at the latest.
"""
from __future__ import annotations

import time

# add *member* to the newest bucket unless a live bucket holds it; 1 if added (atomic, so two
# workers that discover one URL cannot both take it)
_ADD_IF_NEW = """
for i = 2, #KEYS do
  if redis.call('SISMEMBER', KEYS[i], ARGV[1]) == 1 then return 0 end
end
local added = redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return added
"""


class BucketedSet:
    def __init__(self, conn, prefix: str, span_s: int, buckets: int):
        self.conn, self.prefix = conn, prefix
        self.span_s, self.buckets = max(1, int(span_s)), max(1, int(buckets))
        self._add_if_new = conn.register_script(_ADD_IF_NEW)

    @property
    def lifetime_s(self) -> int:
        return self.span_s * (self.buckets + 1)

    def live_keys(self, now: float | None = None) -> list[str]:
        """The buckets a member may be in, newest first."""
        newest = int((time.time() if now is None else now) // self.span_s)
        return [f"{self.prefix}:{n}" for n in range(newest, newest - self.buckets, -1)]

    def contains(self, member: str) -> bool:
        pipe = self.conn.pipeline(transaction=False)
        for key in self.live_keys():
            pipe.sismember(key, member)
        return any(pipe.execute())

    def add(self, members, pipe=None) -> None:
        """Add *members* to the newest bucket (in *pipe* when given, to go with its transaction)."""
        members = list(members)
        if not members:
            return
        target = pipe if pipe is not None else self.conn.pipeline(transaction=False)
        newest = self.live_keys()[0]
        for start in range(0, len(members), 1000):
            target.sadd(newest, *members[start:start + 1000])
        target.expire(newest, self.lifetime_s)
        if pipe is None:
            target.execute()

    def add_if_new(self, member: str) -> bool:
        """Add *member* unless a live bucket holds it; whether it was new."""
        return bool(self._add_if_new(keys=self.live_keys(), args=[member, self.lifetime_s]))

    def size(self) -> int:
        pipe = self.conn.pipeline(transaction=False)
        for key in self.live_keys():
            pipe.scard(key)
        return sum(pipe.execute())
