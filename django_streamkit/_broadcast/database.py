"""The database backend: the app's tables, ``LISTEN``/``NOTIFY`` on PostgreSQL
and polling elsewhere (SQLite), so any process sharing the database hears.

The hub's thread reads through its own Django connection (connections are
per thread), which on PostgreSQL is also the one ``LISTEN`` connection of
the process. It waits in ``poll()`` on that connection's socket and a
pipe that :meth:`DatabaseBackend.wake` writes to, so it never polls there.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import threading
import weakref
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connections, transaction
from django.db.models import F

from django_streamkit._broadcast.base import Batch, Record, decode_data

#: The NOTIFY channel; the payload is the broadcast channel's name.
NOTIFY_CHANNEL = "streamkit_broadcast"


class DatabaseBackend:
    name = "database"

    def __init__(self, alias: str, retention: int, poll_interval: float) -> None:
        self.alias = alias
        self.retention = retention
        self.poll_interval = poll_interval
        self.listening = False
        self.fresh = False
        self.woken = threading.Event()
        self.pipe = os.pipe()
        os.set_blocking(self.pipe[1], False)
        weakref.finalize(self, _close_pipe, self.pipe)

    @property
    def notifies(self) -> bool:
        return connections[self.alias].vendor == "postgresql"

    # -- publishing (any thread, its own connection) --------------------------

    def publish(self, channel: str, event: str | None, data: str) -> str:
        from django_streamkit.models import Channel, Event

        alias = self.alias
        channels = Channel.objects.using(alias)
        with transaction.atomic(using=alias):
            # The row's lock, held to the commit, orders the channel's ids.
            if not channels.filter(name=channel).update(last_id=F("last_id") + 1):
                try:
                    with transaction.atomic(using=alias):
                        channels.create(name=channel, last_id=1)
                except IntegrityError:  # created meanwhile by another publisher
                    channels.filter(name=channel).update(last_id=F("last_id") + 1)
            seq = channels.filter(name=channel).values_list("last_id", flat=True).get()
            Event.objects.using(alias).create(
                channel=channel, seq=seq, event=event or "", data=data
            )
            if seq > self.retention:
                Event.objects.using(alias).filter(
                    channel=channel, seq__lte=seq - self.retention
                ).delete()
            if self.notifies:
                with connections[alias].cursor() as cursor:
                    # Sent by PostgreSQL at the commit, never on a rollback.
                    cursor.execute(
                        "SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, channel]
                    )
        return str(seq)

    # -- reading (the hub's thread) --------------------------------------------

    def head(self, channel: str) -> str:
        from django_streamkit.models import Channel

        self._listen()
        last = (
            Channel.objects.using(self.alias)
            .filter(name=channel)
            .values_list("last_id", flat=True)
            .first()
        )
        return str(last or 0)

    def key(self, event_id: str) -> tuple[int, ...] | None:
        if event_id.isascii() and event_id.isdigit() and len(event_id) < 19:
            return (int(event_id),)
        return None

    def read(self, channel: str, after: str) -> Batch:
        self._listen()
        position = int(after)
        records = self._records(channel, position)
        if not records:
            head = int(self.head(channel))
            if head <= position:
                return Batch([])
            # Read again, after the head: what it counted is committed by
            # now, so whatever of it is not there was trimmed.
            records = self._records(channel, position)
            if not records:
                return Batch([], str(head))
        first = int(records[0].id)
        return Batch(records, str(first - 1) if first > position + 1 else None)

    def _records(self, channel: str, position: int) -> list[Record]:
        from django_streamkit.models import Event

        rows = (
            Event.objects.using(self.alias)
            .filter(channel=channel, seq__gt=position)
            .order_by("seq")
            .values_list("seq", "event", "data")
        )
        return [Record(str(s), e or None, decode_data(d)) for s, e, d in rows]

    def wait(self, cursors: Mapping[str, str], timeout: float) -> dict[str, Batch]:
        if not self.notifies:
            return self._poll(cursors, timeout)
        self._listen()
        if self.fresh:  # (re)connected: whatever came before LISTEN
            self.fresh = False
            names: set[str] = set(cursors)
        else:
            names = self._notified()
            if not names:
                raw = connections[self.alias].connection
                assert raw is not None
                # poll(), not select(): a worker holding a thousand streams
                # gives this socket a descriptor past select()'s 1024.
                poller = select.poll()
                poller.register(raw.fileno(), select.POLLIN)
                poller.register(self.pipe[0], select.POLLIN)
                ready = {fd for fd, _ in poller.poll(timeout * 1000)}
                if self.pipe[0] in ready:
                    os.read(self.pipe[0], 4096)
                names = self._notified()
        return self._read_all({n: c for n, c in cursors.items() if n in names})

    def _notified(self) -> set[str]:
        raw = connections[self.alias].connection
        assert raw is not None
        return {n.payload for n in raw.notifies(timeout=0)}

    def _poll(self, cursors: Mapping[str, str], timeout: float) -> dict[str, Batch]:
        from django_streamkit.models import Channel

        self.woken.wait(min(timeout, self.poll_interval))
        self.woken.clear()
        if not cursors:
            return {}
        heads = dict(
            Channel.objects.using(self.alias)
            .filter(name__in=list(cursors))
            .values_list("name", "last_id")
        )
        return self._read_all(
            {n: c for n, c in cursors.items() if heads.get(n, 0) > int(c)}
        )

    def _read_all(self, cursors: Mapping[str, str]) -> dict[str, Batch]:
        found = {n: self.read(n, c) for n, c in cursors.items()}
        return {n: b for n, b in found.items() if b.records or b.lost_until}

    def _listen(self) -> None:
        connection = connections[self.alias]
        if not self.notifies:
            return
        if self.listening and connection.connection is not None:
            return
        _check_psycopg()
        connection.ensure_connection()
        if not callable(getattr(connection.connection, "notifies", None)):
            raise ImproperlyConfigured(
                "The database broadcast backend listens on PostgreSQL with "
                "psycopg 3 (pip install 'psycopg[binary]'); this connection "
                "uses psycopg2."
            )
        connection.set_autocommit(True)
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")
        self.listening = True
        self.fresh = True

    def wake(self) -> None:
        self.woken.set()
        with contextlib.suppress(BlockingIOError):  # already full of wake-ups
            os.write(self.pipe[1], b"w")

    def close(self) -> None:
        self.listening = False
        connection = connections[self.alias]
        connection.close()
        if connection.connection is not None:
            # Django keeps an in-memory SQLite database open (closing would
            # lose it); this thread's connection to it goes with the thread.
            connection.connection.close()
            connection.connection = None


#: Before it, notifications that arrive while the connection runs a query
#: (the hub's reads) never reach ``notifies()``: their events would wait
#: for the channel's next one.
PSYCOPG_MIN = (3, 2, 4)


def _check_psycopg() -> None:
    import psycopg

    found = tuple(int(p) for p in re.findall(r"\d+", psycopg.__version__)[:3])
    if found < PSYCOPG_MIN:
        raise ImproperlyConfigured(
            f"The database broadcast backend listens with psycopg "
            f"{psycopg.__version__}, which loses notifications that arrive "
            "during a query; pip install 'psycopg>=3.2.4'."
        )


def _close_pipe(pipe: tuple[int, int]) -> None:
    for fd in pipe:
        os.close(fd)
