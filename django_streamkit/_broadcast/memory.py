"""The memory backend: one process, for tests and single-process servers."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping

from django_streamkit._broadcast.base import Batch, Record, decode_data

_lock = threading.Condition()
_channels: dict[str, tuple[list[int], deque[Record]]] = {}
_version = [0]


def clear() -> None:
    """Forget every channel (tests)."""
    with _lock:
        _channels.clear()


class MemoryBackend:
    name = "memory"

    def __init__(self, retention: int) -> None:
        self.retention = retention
        self.woken = False

    def publish(self, channel: str, event: str | None, data: str) -> str:
        record_data = decode_data(data)
        with _lock:
            last, records = _channels.setdefault(channel, ([0], deque()))
            last[0] += 1
            record = Record(str(last[0]), event, record_data)
            records.append(record)
            while len(records) > self.retention:
                records.popleft()
            _version[0] += 1
            _lock.notify_all()
        return record.id

    def head(self, channel: str) -> str:
        with _lock:
            entry = _channels.get(channel)
            return str(entry[0][0]) if entry else "0"

    def key(self, event_id: str) -> tuple[int, ...] | None:
        # As the database's: an int() of a client's 5,000 digits would raise.
        if event_id.isascii() and event_id.isdigit() and len(event_id) < 19:
            return (int(event_id),)
        return None

    def read(self, channel: str, after: str) -> Batch:
        position = int(after)
        with _lock:
            entry = _channels.get(channel)
            if entry is None:
                return Batch([])
            last, records = entry
            found = [r for r in records if int(r.id) > position]
            first = int(found[0].id) if found else last[0] + 1
        lost = str(first - 1) if first > position + 1 else None
        return Batch(found, lost)

    def wait(self, cursors: Mapping[str, str], timeout: float) -> dict[str, Batch]:
        with _lock:
            if not self._pending(cursors) and not self.woken:
                _lock.wait(timeout)
            self.woken = False
        return {
            name: batch
            for name, cursor in cursors.items()
            if (batch := self.read(name, cursor)).records or batch.lost_until
        }

    def _pending(self, cursors: Mapping[str, str]) -> bool:
        return any(
            (e := _channels.get(n)) is not None and e[0][0] > int(c)
            for n, c in cursors.items()
        )

    def wake(self) -> None:
        with _lock:
            self.woken = True
            _lock.notify_all()

    def close(self) -> None:
        pass
