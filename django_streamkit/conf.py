"""Settings, read live from ``django.conf.settings`` so ``override_settings`` works.

Every setting is prefixed ``STREAMKIT_``; the defaults below are documented in
the README and validated by the system checks in :mod:`django_streamkit.checks`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Target size of each chunk handed to the server, in bytes.
    "CHUNK_SIZE": 64 * 1024,
    # Longest time, in seconds, that produced bytes wait for more before they
    # are flushed while the source keeps producing.
    "MAX_LATENCY": 0.1,
    # Prefix spreadsheet formula triggers in CSV string cells with "'".
    "CSV_ESCAPE_FORMULAS": True,
    # How CSV writes datetimes: "local" (current time zone, no offset) or
    # "iso" (UTC, with the offset); see django_streamkit._writers.datetimes.
    "CSV_DATETIME_FORMAT": "local",
    # A UTF-8 byte order mark first in admin and registry exports, for Excel.
    "EXPORT_BOM": True,
    # Rows fetched per database round trip when a QuerySet is streamed.
    "QUERYSET_CHUNK_SIZE": 2000,
    # PostgreSQL writes QuerySet CSV exports itself (COPY ... TO STDOUT)
    # wherever its bytes are the Python writer's; False: always Python.
    "CSV_COPY": True,
    # Jinja2's ``enable_buffering(size)`` default for streamed templates.
    "TEMPLATE_BUFFER_SIZE": 5,
    # Seconds of silence after which an event stream sends a ": ping" comment.
    "SSE_PING": 15.0,
    # Where published events are stored and fanned out; see docs/broadcast.md.
    "BROADCAST": {},
}

#: The keys of ``STREAMKIT_BROADCAST`` and their defaults.
BROADCAST_DEFAULTS: dict[str, Any] = {
    "BACKEND": "database",  # or "redis", "memory"
    "URL": "redis://127.0.0.1:6379/0",  # the redis backend's server
    "RETENTION": 1000,  # events kept per channel, for Last-Event-ID replay
    "DATABASE": "default",  # the database backend's alias
    "PREFIX": "streamkit:",  # the redis backend's key prefix
    "POLL_INTERVAL": 1.0,  # seconds between polls where there is no NOTIFY
}


class Settings:
    """Typed, live access to the ``STREAMKIT_*`` settings and their defaults."""

    def _get(self, name: str) -> Any:
        return getattr(settings, f"STREAMKIT_{name}", DEFAULTS[name])

    @property
    def CHUNK_SIZE(self) -> int:
        return int(self._get("CHUNK_SIZE"))

    @property
    def MAX_LATENCY(self) -> float:
        return float(self._get("MAX_LATENCY"))

    @property
    def CSV_ESCAPE_FORMULAS(self) -> bool:
        return bool(self._get("CSV_ESCAPE_FORMULAS"))

    @property
    def CSV_DATETIME_FORMAT(self) -> str:
        return self._get("CSV_DATETIME_FORMAT")  # type: ignore[no-any-return]

    @property
    def EXPORT_BOM(self) -> bool:
        return bool(self._get("EXPORT_BOM"))

    @property
    def QUERYSET_CHUNK_SIZE(self) -> int:
        return int(self._get("QUERYSET_CHUNK_SIZE"))

    @property
    def CSV_COPY(self) -> bool:
        return bool(self._get("CSV_COPY"))

    @property
    def TEMPLATE_BUFFER_SIZE(self) -> int:
        return int(self._get("TEMPLATE_BUFFER_SIZE"))

    @property
    def SSE_PING(self) -> float:
        return float(self._get("SSE_PING"))

    def sse_ping(self, ping: object) -> float:
        """A ``ping`` argument, checked; ``None`` is the setting."""
        if ping is None:
            return self.SSE_PING
        if (
            not isinstance(ping, int | float)
            or isinstance(ping, bool)
            or not 0 < ping < float("inf")
        ):
            raise ValueError(
                f"ping must be a positive number of seconds, not {ping!r}; "
                "pass None to use the STREAMKIT_SSE_PING setting."
            )
        return float(ping)

    @property
    def BROADCAST(self) -> dict[str, Any]:
        return dict(self._get("BROADCAST"))

    def broadcast(self) -> dict[str, Any]:
        """``STREAMKIT_BROADCAST`` over the defaults of its keys."""
        return {**BROADCAST_DEFAULTS, **self.BROADCAST}

    def chunk_size(self, chunk_size: object) -> int:
        """A ``chunk_size`` argument, checked; ``None`` is the setting."""
        if chunk_size is None:
            return self.CHUNK_SIZE
        if (
            not isinstance(chunk_size, int)
            or isinstance(chunk_size, bool)
            or chunk_size < 1
        ):
            raise ValueError(
                f"chunk_size must be a positive number of bytes, not {chunk_size!r}; "
                "pass None to use the STREAMKIT_CHUNK_SIZE setting."
            )
        return chunk_size


conf = Settings()
