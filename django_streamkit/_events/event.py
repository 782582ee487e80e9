"""One Server-Sent Event and its wire format (WHATWG HTML, "Server-sent
events", section 9.2: the ``text/event-stream`` interpretation).

The format is line based: any of CRLF, LF or CR ends a line, a line starting
with ``:`` is a comment, ``field: value`` sets a field, and a blank line
dispatches the event. So ``data`` (and a comment) may hold line breaks, which
become one ``data:`` line each and are joined back with LF by the browser,
while ``event`` and ``id`` may not: a line break there would start a field of
the client's choosing. A NUL in ``id`` makes browsers ignore the id (the
spec's "If the field value does not contain U+0000 NULL"), so it is refused
as well, rather than silently breaking reconnection.
"""

from __future__ import annotations

import json
import re
from dataclasses import KW_ONLY, dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.functional import Promise

__all__ = ["ServerSentEvent", "encode_comment"]

#: Where the event-stream format breaks a line: CRLF, LF or CR.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FORBIDDEN = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One event: ``data`` (a ``str``, sent as it is, one ``data:`` line per
    line, or any value ``DjangoJSONEncoder`` encodes, sent as JSON), and the
    optional ``event`` (its type), ``id``, ``retry`` (the reconnection delay
    in milliseconds) and ``comment`` fields.

    An event with neither ``data`` nor ``comment`` still sets ``id`` and
    ``retry`` in the browser, but dispatches nothing (as the spec says of an
    empty data buffer).
    """

    data: Any = None
    _: KW_ONLY
    event: str | None = None
    id: str | int | None = None
    retry: int | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        for field in ("event", "id"):
            value = getattr(self, field)
            if value is None:
                continue
            if isinstance(value, Promise):
                value = str(value)
                object.__setattr__(self, field, value)
            if field == "id" and isinstance(value, int) and not isinstance(value, bool):
                continue
            if not isinstance(value, str):
                raise ValueError(
                    f"ServerSentEvent {field}={value!r} must be a str"
                    + (" or an int" if field == "id" else "")
                    + f", not {type(value).__name__}."
                )
            if _FORBIDDEN.search(value):
                raise ValueError(
                    f"ServerSentEvent {field}={value!r} contains a line break or "
                    f"NUL, which the event-stream format cannot carry in a "
                    f"field; remove it (only data and comment may span lines)."
                )
        retry = self.retry
        if retry is not None and (
            not isinstance(retry, int) or isinstance(retry, bool) or retry < 0
        ):
            raise ValueError(
                f"ServerSentEvent retry={retry!r} must be a whole number of "
                f"milliseconds (an int >= 0), e.g. retry=3000."
            )
        if self.comment is not None and not isinstance(self.comment, str | Promise):
            raise ValueError(
                f"ServerSentEvent comment={self.comment!r} must be a str, not "
                f"{type(self.comment).__name__}."
            )

    def encode(self, encoder: type[json.JSONEncoder] = DjangoJSONEncoder) -> str:
        """The event as ``text/event-stream`` text, ending with a blank line."""
        lines = []
        if self.comment is not None:
            lines.append(encode_comment(str(self.comment)))
        if self.event is not None:
            lines.append(f"event: {self.event}\n")
        if self.id is not None:
            lines.append(f"id: {self.id}\n")
        if self.retry is not None:
            lines.append(f"retry: {self.retry}\n")
        data = self.data
        if data is not None:
            text = data if isinstance(data, str) else _json(data, encoder)
            # "data: " + line: the one space after the colon is what the
            # parser strips, so a value's own leading space survives.
            lines.extend(f"data: {line}\n" for line in _LINE_BREAK.split(text))
        lines.append("\n")
        return "".join(lines)


def _json(data: object, encoder: type[json.JSONEncoder]) -> str:
    if isinstance(data, Promise):
        return str(data)
    try:
        # No line breaks in JSON's own output (no indent), so one data line.
        return json.dumps(data, cls=encoder, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"ServerSentEvent data={data!r} is neither a str nor a value "
            f"{encoder.__name__} can encode ({exc}); pass a str, or a dict, "
            f"list, number, date, Decimal or UUID."
        ) from exc


def encode_comment(text: str) -> str:
    """A comment (``: text``), one line per line of ``text``."""
    return "".join(f": {line}\n" for line in _LINE_BREAK.split(text))
