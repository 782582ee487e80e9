"""Streaming responses for Django: CSV, Jinja2 templates and request-scoped generators."""

from __future__ import annotations

from django_streamkit.responses import StreamingResponse

__all__ = ["StreamingResponse"]
