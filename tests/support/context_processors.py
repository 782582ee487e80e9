from __future__ import annotations

from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, str]:
    return {"site_name": "Streamkit tests", "title": "from a context processor"}
