"""The redis backend: one Redis stream per channel (``XADD`` with an exact
``MAXLEN``), read by the hub with a blocking ``XREAD`` of every channel that
has subscribers in the process, on one connection of its own.

Each entry also holds the id of the entry before it (``p``, written by one
Lua script, so atomically), which is how a reader knows that entries between
its cursor and the oldest retained one were trimmed: stream ids are not
consecutive, and Redis does not record what ``MAXLEN`` removed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from typing import Any

import redis

from django_streamkit._broadcast.base import Batch, Record, decode_data

#: The longest blocking read: the backstop for a wake-up sent just before
#: the read began (CLIENT UNBLOCK only reaches a client already blocked).
BLOCK_MS = 1000

_PUBLISH = """
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local previous = '0-0'
if newest[1] then previous = newest[1][1] end
if ARGV[3] == '' then
  return redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 'p', previous,
                    'd', ARGV[2])
end
return redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 'p', previous,
                  'd', ARGV[2], 'e', ARGV[3])
"""


class RedisBackend:
    name = "redis"

    def __init__(self, url: str, prefix: str, retention: int) -> None:
        self.prefix = prefix
        self.retention = retention
        self.client: redis.Redis = redis.Redis.from_url(url, decode_responses=True)
        self.url = url
        self.reader: redis.Redis | None = None
        self.reader_id: int | None = None
        self.woken = threading.Event()
        self.script = self.client.register_script(_PUBLISH)

    def publish(self, channel: str, event: str | None, data: str) -> str:
        if event == "":
            raise ValueError("An empty event type is not sent; use event=None.")
        return str(
            self.script(
                keys=[self.prefix + channel], args=[self.retention, data, event or ""]
            )
        )

    def head(self, channel: str) -> str:
        newest = self.client.xrevrange(self.prefix + channel, count=1)
        return str(newest[0][0]) if newest else "0-0"

    def key(self, event_id: str) -> tuple[int, ...] | None:
        ms, dash, seq = event_id.partition("-")
        if not (dash and _part(ms) and _part(seq)):
            return None
        key = (int(ms), int(seq))
        # Redis refuses ids past 64 bits, and the largest as a "(" start.
        return key if max(key) < _LIMIT and key != (_LIMIT - 1,) * 2 else None

    def read(self, channel: str, after: str) -> Batch:
        stream = self.prefix + channel
        entries = self.client.xrange(stream, min="(" + after, max="+")
        return _batch(entries, after)

    def wait(self, cursors: Mapping[str, str], timeout: float) -> dict[str, Batch]:
        if not cursors:
            self.woken.wait(timeout)
            self.woken.clear()
            return {}
        reader = self._reader()
        self.woken.clear()
        block = max(1, min(int(timeout * 1000), BLOCK_MS))
        found = reader.xread(
            {self.prefix + n: c for n, c in cursors.items()},
            block=block,
            count=self.retention,
        )
        batches: dict[str, Batch] = {}
        for stream, entries in found or []:  # type: ignore[str-unpack]
            name = str(stream)[len(self.prefix) :]
            batches[name] = _batch(entries, cursors[name])
        return batches

    def _reader(self) -> redis.Redis:
        if self.reader is None:
            self.reader = redis.Redis.from_url(
                self.url, decode_responses=True, single_connection_client=True
            )
            self.reader_id = int(self.reader.client_id())
        return self.reader

    def wake(self) -> None:
        self.woken.set()
        if self.reader_id is not None:
            # If this fails, the hub's read ends by itself within BLOCK_MS.
            with contextlib.suppress(redis.RedisError):
                self.client.client_unblock(self.reader_id)

    def close(self) -> None:
        reader, self.reader, self.reader_id = self.reader, None, None
        if reader is not None:
            reader.close()


_LIMIT = 2**64


def _part(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 20


def _batch(entries: Any, after: str) -> Batch:
    records = [
        Record(str(entry_id), fields.get("e"), decode_data(fields["d"]))
        for entry_id, fields in entries or []
    ]
    previous = str(entries[0][1].get("p", after)) if entries else after
    # An entry before the first retained one, that the reader never had.
    lost = _key(previous) > _key(after)
    return Batch(records, previous if lost else None)


def _key(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return (int(ms), int(seq or 0))
