"""Streamed Jinja2 templates' machinery: the context Django's backend would
build, the first piece, and lazy values read while the page is sent."""
