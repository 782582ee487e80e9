"""The export index page: a Jinja2 template shipped with the app.

Rendered by the project's Jinja2 engine when it finds the template (so a
project may override ``streamkit/index.html`` in its own ``jinja2/``
directory), else by a private Jinja2 engine of the app, so the page works
whether or not ``TEMPLATES`` has a Jinja2 engine.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.backends.jinja2 import Jinja2

TEMPLATES_DIR = Path(__file__).resolve().parent / "jinja2"


@cache
def private_engine() -> Jinja2:
    """A Jinja2 engine that only sees this app's templates."""
    return Jinja2(
        {"NAME": "streamkit", "DIRS": [TEMPLATES_DIR], "APP_DIRS": False, "OPTIONS": {}}
    )


def render_index(
    request: HttpRequest, template_name: str, context: dict[str, Any]
) -> HttpResponse:
    template = private_engine().get_template(template_name)
    return HttpResponse(template.render(context, request))
