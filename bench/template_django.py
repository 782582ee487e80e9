"""Django side of bench_templates: the URLconf of bench.template_settings.

Both views render the same Jinja2 template from the same engine over the
same in-memory rows; only the response differs.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import path

from bench.template_data import TEMPLATE, TITLE, customers
from django_streamkit import StreamingTemplateResponse


def healthz(request: HttpRequest) -> HttpResponse:
    customers()  # build the rows once, before anything is timed
    return HttpResponse("ok")


def streamkit(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingTemplateResponse(
        request, TEMPLATE, {"heading": TITLE, "rows": customers()}
    )


def django_render(request: HttpRequest) -> HttpResponse:
    return render(
        request, TEMPLATE, {"heading": TITLE, "rows": customers()}, using="jinja2"
    )


urlpatterns = [
    path("healthz", healthz),
    path("streamkit", streamkit),
    path("render", django_render),
]
