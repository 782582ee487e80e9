"""What every broadcast backend provides, and the records they pass around.

A backend is used from one thread at a time by the process's hub (reading)
and from any thread by publishers (``publish`` only), so reading methods may
keep per-connection state without locks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django.core.serializers.json import DjangoJSONEncoder

__all__ = ["Backend", "Batch", "Record", "Replay", "check_channel", "encode_data"]

_CHANNEL = re.compile(r"[A-Za-z0-9_.:\-]{1,200}")


@dataclass(frozen=True, slots=True)
class Record:
    """One stored event: its id in its channel, type and decoded data."""

    id: str
    event: str | None
    data: Any


@dataclass(slots=True)
class Batch:
    """What one read found after a cursor: the records and, when events
    between the cursor and the first record are no longer retained, the id
    of the newest lost one."""

    records: list[Record]
    lost_until: str | None = None


@dataclass(slots=True)
class Replay:
    """A subscriber's start: ``reset`` (the newest lost id) if it asked for an
    id older than the retained ones, and the retained records after it."""

    records: list[Record]
    reset: str | None = None


class Backend(Protocol):
    name: str

    def publish(self, channel: str, event: str | None, data: str) -> str:
        """Store one event (``data`` is JSON), wake listeners; its id."""

    def head(self, channel: str) -> str:
        """The channel's newest id (``"0"`` before any)."""

    def key(self, event_id: str) -> tuple[int, ...] | None:
        """A sortable key of an id of this backend, or ``None`` if it isn't one."""

    def read(self, channel: str, after: str) -> Batch:
        """The retained records after ``after``, oldest first."""

    def wait(self, cursors: Mapping[str, str], timeout: float) -> dict[str, Batch]:
        """Block until some channel of ``cursors`` may have records after its
        cursor (or ``timeout``, or :meth:`wake`); return what was found."""

    def wake(self) -> None:
        """Make a blocked :meth:`wait` return soon (thread-safe)."""

    def close(self) -> None:
        """Release the reading connection."""


def check_channel(channel: object) -> str:
    if not isinstance(channel, str) or not _CHANNEL.fullmatch(channel):
        raise ValueError(
            f"Broadcast channel {channel!r} is not a channel name: use 1 to 200 "
            "ASCII letters, digits and '_', '.', ':', '-', as in 'orders' or "
            "'orders:42'."
        )
    return channel


def encode_data(data: object) -> str:
    try:
        return json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"Broadcast data={data!r} cannot be stored as JSON ({exc}); publish "
            "a str, or a dict, list, number, date, Decimal or UUID."
        ) from exc


class Undecodable:
    """Stored data that is not JSON (written by something else than
    ``publish()``): no event can be made of it."""

    __slots__ = ("text",)

    def __init__(self, text: object) -> None:
        self.text = text

    def __repr__(self) -> str:
        text = repr(self.text)
        return f"<not JSON: {text if len(text) <= 80 else text[:77] + '...'}>"


def decode_data(text: object) -> Any:
    """Stored data as its value, or :class:`Undecodable` (never raising, so
    one bad record can't stop a backend's read of every channel)."""
    if not isinstance(text, str):
        return Undecodable(text)
    try:
        return json.loads(text)
    except ValueError:
        return Undecodable(text)
