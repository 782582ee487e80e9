"""The database broadcast backend's tables (see :mod:`django_streamkit.broadcast`).

``Channel`` holds each channel's last id: publishing increments it under the
row's lock, so a channel's ids are consecutive and become visible in order
(the lock is held until the event's commit), which lets a reader that saw
id ``n`` ask for ``> n`` and miss nothing. ``Event`` keeps the newest
``STREAMKIT_BROADCAST["RETENTION"]`` events of each channel for replay.
"""

from __future__ import annotations

from django.db import models


class Channel(models.Model):
    name = models.CharField(max_length=200, unique=True)
    last_id = models.BigIntegerField(default=0)

    class Meta:
        db_table = "streamkit_broadcast_channel"

    def __str__(self) -> str:
        return self.name


class Event(models.Model):
    channel = models.CharField(max_length=200)
    seq = models.BigIntegerField()
    event = models.CharField(max_length=200, blank=True, default="")  # "" is none
    data = models.TextField()  # JSON
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "streamkit_broadcast_event"
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "seq"], name="streamkit_broadcast_event_seq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel}#{self.seq}"
