"""Streaming responses for Django: CSV, Jinja2 templates, request-scoped state."""

from __future__ import annotations

from django_streamkit.responses import StreamingResponse

__all__ = ["StreamingResponse"]
