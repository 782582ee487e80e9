"""Streaming responses for Django: CSV, Jinja2 templates, request-scoped state."""

from __future__ import annotations

from django_streamkit.context import (
    current_request,
    get_current_request,
    stream_with_context,
)
from django_streamkit.csv import StreamingCSVResponse, stream_csv
from django_streamkit.responses import StreamingResponse
from django_streamkit.sse import EventStreamResponse, ServerSentEvent, last_event_id
from django_streamkit.templating import (
    StreamingTemplateResponse,
    stream_template,
    stream_template_string,
)

__all__ = [
    "EventStreamResponse",
    "ServerSentEvent",
    "StreamingCSVResponse",
    "StreamingResponse",
    "StreamingTemplateResponse",
    "current_request",
    "get_current_request",
    "last_event_id",
    "stream_csv",
    "stream_template",
    "stream_template_string",
    "stream_with_context",
]
