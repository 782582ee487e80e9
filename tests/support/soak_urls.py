"""The soak's URLs (``tests.support.soak_settings``); one path per kind of stream.

Kept out of ``tests.support.urls`` because importing the soak's views registers its
export, which the in-process tests of the export index must not see.
"""

from __future__ import annotations

from django.urls import include, path

from tests.support import soak_views, views

urlpatterns = [
    path("healthz", views.healthz),
    path("soak/core/<slug:kind>", soak_views.core),
    path("soak/csv/gen", soak_views.csv_gen),
    path("soak/csv/agen", soak_views.csv_agen),
    path("soak/csv/queryset", soak_views.RecordsCSV.as_view()),
    path("soak/template/gen", soak_views.TemplateGen.as_view()),
    path("soak/template/agen", soak_views.TemplateAgen.as_view()),
    path("soak/template/queryset", soak_views.TemplateQuerySet.as_view()),
    path("exports/", include("django_streamkit.urls")),
]
