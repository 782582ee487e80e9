"""The Flask app of bench_templates, as ``tests.servers.serve`` runs a project."""

from __future__ import annotations

from bench.template_flask import app as application

__all__ = ["application"]
