"""The Flask app of bench_templates, as ``tests.support.servers.serve`` runs it."""

from __future__ import annotations

from bench.template_flask import app as application

__all__ = ["application"]
