"""The export index page: a streamed Jinja2 template shipped with the app.

Rendered by the project's Jinja2 engine when one finds the template (so a
project may override ``streamkit/index.html`` in its own Jinja2 directory),
else by a private Jinja2 engine of the app, so the page works whether or not
``TEMPLATES`` has a Jinja2 engine.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.http import HttpRequest
from django.template import TemplateDoesNotExist, engines
from django.template.backends.jinja2 import Jinja2

from django_streamkit._templating.context import is_jinja2
from django_streamkit._templating.stream import stream_with_engine
from django_streamkit.responses import StreamingResponse
from django_streamkit.templating import StreamingTemplateResponse

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "jinja2"


@cache
def private_engine() -> Jinja2:
    """A Jinja2 engine that sees only this app's templates, autoescaping."""
    return Jinja2(
        {
            "NAME": "streamkit",
            "DIRS": [TEMPLATES_DIR],
            "APP_DIRS": False,
            "OPTIONS": {},
        }
    )


def render_index(
    request: HttpRequest, template_name: str, context: dict[str, object]
) -> StreamingResponse:
    for engine in engines.all():
        if not is_jinja2(engine):
            continue
        try:
            engine.get_template(template_name)
        except TemplateDoesNotExist:
            continue
        return StreamingTemplateResponse(
            request, template_name, context, using=engine.name
        )
    pieces = stream_with_engine(private_engine(), request, template_name, context)
    return StreamingResponse(pieces, content_type="text/html; charset=utf-8")
