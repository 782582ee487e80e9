"""Mountable export URLs: ``path("exports/", include("django_streamkit.urls"))``.

``""`` lists the exports the signed-in user may download; ``"<slug>.csv"``
streams one, and ``"<slug>.<format>"`` one in another of its ``formats``.
Exports are declared with :func:`django_streamkit.exports.register`.
"""

from __future__ import annotations

from django.urls import path

from django_streamkit.events import EventChannelView
from django_streamkit.exports import ExportIndexView, ExportView

app_name = "streamkit"

urlpatterns = [
    path("", ExportIndexView.as_view(), name="index"),
    path("<slug:slug>.csv", ExportView.as_view(), name="export"),
    path("<slug:slug>.<slug:format>", ExportView.as_view(), name="export_format"),
    path("events/<slug:name>", EventChannelView.as_view(), name="events"),
]
