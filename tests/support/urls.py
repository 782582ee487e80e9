from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from tests.support import views

urlpatterns = [
    path("healthz", views.healthz),
    path("core/<slug:scenario>", views.core),
    path("templates/", include("tests.support.template_views")),
    path("context/", include("tests.support.context_urls")),
    path("csv/", include("tests.support.csv_views")),
    path("copy/", include("tests.support.copy_urls")),
    path("json/", include("tests.support.json_urls")),
    path("paced/", include("tests.support.paced_views")),
    path("xlsx/", include("tests.support.xlsx_views")),
    path("sse/", include("tests.support.sse_views")),
    path("matrix/", include("tests.support.matrix_views")),
    path("admin/", admin.site.urls),
    path("exports/", include("django_streamkit.urls")),
    path("broadcast/", include("tests.support.broadcast_views")),
]
