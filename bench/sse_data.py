"""What both event-stream benchmark servers send."""

from __future__ import annotations

#: A small event's data (16 bytes).
EVENT = "0123456789abcdef"
#: Heartbeat interval, seconds, on both sides.
PING = 15
#: How long an idle stream stays open.
IDLE_FOR = 600
