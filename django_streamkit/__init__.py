"""Streaming responses for Django: CSV, Jinja2 templates, request-scoped state."""

from __future__ import annotations

from django_streamkit.context import (
    current_request,
    get_current_request,
    stream_with_context,
)
from django_streamkit.csv import StreamingCSVResponse, stream_csv
from django_streamkit.json import (
    StreamingJSONResponse,
    StreamingNDJSONResponse,
    stream_json,
    stream_ndjson,
)
from django_streamkit.responses import StreamingResponse
from django_streamkit.sse import EventStreamResponse, ServerSentEvent, last_event_id
from django_streamkit.templating import (
    StreamingTemplateResponse,
    stream_template,
    stream_template_string,
)
from django_streamkit.xlsx import StreamingXLSXResponse, stream_xlsx

__all__ = [
    "EventStreamResponse",
    "ServerSentEvent",
    "StreamingCSVResponse",
    "StreamingJSONResponse",
    "StreamingNDJSONResponse",
    "StreamingResponse",
    "StreamingTemplateResponse",
    "StreamingXLSXResponse",
    "current_request",
    "get_current_request",
    "last_event_id",
    "stream_csv",
    "stream_json",
    "stream_ndjson",
    "stream_template",
    "stream_template_string",
    "stream_with_context",
    "stream_xlsx",
]
