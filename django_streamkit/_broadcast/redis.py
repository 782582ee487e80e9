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
#: Seconds an answer may take past its ``BLOCK`` before the link is taken
#: for lost (a half-open connection: Redis gone, or a NAT or proxy that
#: dropped it, sends nothing and closes nothing). The hub then reconnects
#: and reads on from its cursors, so nothing is lost or given twice.
READ_SLACK = 5.0
#: The wake-up's own timeout.
WAKE_TIMEOUT = 0.5

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
        # Publishing: the URL's options win, else redis-py 8's default
        # timeout (earlier releases wait for ever on a dead link).
        self.client: redis.Redis = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=READ_SLACK
        )
        self.url = url
        # The hub's own reads (head, replays) are bounded whatever the URL
        # says, and so is the wake-up, sent from subscribers' threads and
        # event loops, which must never wait long (a lost one is made up
        # for by BLOCK_MS).
        self.control = _bounded(url, READ_SLACK)
        self.waker = _bounded(url, WAKE_TIMEOUT)
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
        newest = self.control.xrevrange(self.prefix + channel, count=1)
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
        entries = self.control.xrange(stream, min="(" + after, max="+")
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
            self.reader = _bounded(
                self.url, BLOCK_MS / 1000 + READ_SLACK, single_connection_client=True
            )
            self.reader_id = int(self.reader.client_id())
        return self.reader

    def wake(self) -> None:
        self.woken.set()
        if self.reader_id is not None:
            # If this fails, the hub's read ends by itself within BLOCK_MS.
            with contextlib.suppress(redis.RedisError):
                self.waker.client_unblock(self.reader_id)

    def close(self) -> None:
        reader, self.reader, self.reader_id = self.reader, None, None
        if reader is not None:
            reader.close()  # gives its connection back to its own pool
            reader.connection_pool.disconnect()
        # Connections that may be on the lost link go too.
        self.control.connection_pool.disconnect()
        self.waker.connection_pool.disconnect()


def _bounded(url: str, timeout: float, **options: Any) -> redis.Redis:
    """A client on ``url`` whose every read and connect ends in ``timeout``
    seconds, whatever the URL's own options."""
    pool = redis.ConnectionPool.from_url(url, decode_responses=True)
    pool.connection_kwargs.update(
        socket_timeout=timeout, socket_connect_timeout=timeout, socket_keepalive=True
    )
    return redis.Redis(connection_pool=pool, **options)


_LIMIT = 2**64


def _part(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 20


def _batch(entries: Any, after: str) -> Batch:
    records = [
        Record(str(entry_id), fields.get("e"), decode_data(fields.get("d")))
        for entry_id, fields in entries or []
    ]
    previous = str(entries[0][1].get("p", after)) if entries else after
    # An entry before the first retained one, that the reader never had.
    lost = _key(previous) > _key(after)
    return Batch(records, previous if lost else None)


def _key(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return (int(ms), int(seq or 0))
