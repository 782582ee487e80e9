"""ServerSentEvent's wire format, checked against a maintained SSE parser."""

from __future__ import annotations

import datetime
import decimal
import json
import re
import uuid

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext_lazy
from httpx_sse._decoders import SSEDecoder
from hypothesis import given
from hypothesis import strategies as st

from django_streamkit import ServerSentEvent


def parse(text: str) -> list[dict[str, object]]:
    """What a client's parser dispatches from ``text``."""
    decoder = SSEDecoder()
    events = []
    # Only CR and LF break lines in this format (not str.splitlines()'s set).
    # The text after the last line break is not a line yet.
    for line in re.split(r"\r\n|\r|\n", text)[:-1]:
        sse = decoder.decode(line)
        if sse is not None:
            events.append(
                {"event": sse.event, "data": sse.data, "id": sse.id, "retry": sse.retry}
            )
    return events


def test_fields_in_order_with_a_blank_line_after() -> None:
    event = ServerSentEvent("hi", event="greeting", id=7, retry=2500, comment="c")
    assert event.encode() == (": c\nevent: greeting\nid: 7\nretry: 2500\ndata: hi\n\n")
    assert (event.data, event.event, event.id, event.retry, event.comment) == (
        "hi",
        "greeting",
        7,
        2500,
        "c",
    )


@pytest.mark.parametrize("text", ["a\nb", "a\r\nb", "a\rb", "\n", "", " lead"])
def test_data_is_split_on_every_line_break_and_survives_a_parser(text: str) -> None:
    (got,) = parse(ServerSentEvent(text).encode())
    assert got["data"] == text.replace("\r\n", "\n").replace("\r", "\n")


def test_values_that_are_not_str_are_json() -> None:
    value = {
        "when": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        "price": decimal.Decimal("1.10"),
        "id": uuid.UUID(int=1),
        "name": "José 東京",
        "multi": "a\nb",
    }
    text = ServerSentEvent(value).encode()
    assert text.count("data:") == 1  # JSON escapes its line breaks
    (got,) = parse(text)
    assert json.loads(str(got["data"])) == json.loads(
        json.dumps(value, cls=DjangoJSONEncoder)
    )


def test_lazy_strings_are_text() -> None:
    assert ServerSentEvent(gettext_lazy("Hello")).encode() == "data: Hello\n\n"
    assert ServerSentEvent(event=gettext_lazy("Hello")).event == "Hello"


def test_a_multiline_comment_is_one_comment_line_each() -> None:
    assert ServerSentEvent(comment="a\nb").encode() == ": a\n: b\n\n"
    assert parse(ServerSentEvent(comment="a\nb").encode()) == []


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"event": "a\nb"}, "event="),
        ({"event": "a\rb"}, "event="),
        ({"id": "1\n2"}, "id="),
        ({"id": "1\x002"}, "id="),
        ({"event": 3}, "event=3"),
        ({"id": 1.5}, "id=1.5"),
        ({"retry": -1}, "retry=-1"),
        ({"retry": 1.5}, "retry=1.5"),
        ({"retry": True}, "retry=True"),
        ({"comment": 5}, "comment=5"),
    ],
)
def test_bad_fields_are_value_errors_that_name_them(
    kwargs: dict[str, object], names: str
) -> None:
    with pytest.raises(ValueError, match=names):
        ServerSentEvent("x", **kwargs)  # type: ignore[arg-type]


def test_data_that_json_cannot_encode_names_it() -> None:
    with pytest.raises(ValueError, match="data=<object"):
        ServerSentEvent(object()).encode()


@given(
    # Not "": the spec dispatches nothing for an empty data buffer.
    data=st.text(min_size=1),
    event=st.none() | st.text().filter(lambda s: not set(s) & set("\r\n\x00")),
    id=st.none() | st.text().filter(lambda s: not set(s) & set("\r\n\x00")),
    retry=st.none() | st.integers(min_value=0, max_value=10**9),
)
def test_any_event_round_trips_through_a_parser(
    data: str, event: str | None, id: str | None, retry: int | None
) -> None:
    events = parse(ServerSentEvent(data, event=event, id=id, retry=retry).encode())
    assert len(events) == 1
    (got,) = events
    assert got["data"] == data.replace("\r\n", "\n").replace("\r", "\n")
    # The parser strips the one space after the colon, and treats an empty
    # event type as the default.
    assert got["event"] == (event or "message")
    assert got["retry"] == retry
    if id is not None:
        assert got["id"] == id
