"""System checks for event streams.

streamkit.E060  STREAMKIT_SSE_PING is not a positive number of seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


def check_sse_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[checks.CheckMessage]:
    if not hasattr(settings, "STREAMKIT_SSE_PING"):
        return []
    value = getattr(settings, "STREAMKIT_SSE_PING")  # noqa: B009
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and 0 < value < float("inf")
    ):
        return []
    return [
        checks.Error(
            f"STREAMKIT_SSE_PING is {value!r}; it must be a positive, finite "
            f"number of seconds.",
            hint="Set STREAMKIT_SSE_PING to the seconds of silence after which "
            "an event stream sends a ': ping' comment (below your proxies' idle "
            "timeouts), or remove it to use the default (15).",
            id="streamkit.E060",
        )
    ]
