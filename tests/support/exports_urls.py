"""Only the exports, mounted elsewhere: for the URL checks and namespaces."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("downloads/", include("django_streamkit.urls")),
]
