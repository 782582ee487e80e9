from __future__ import annotations

from django.urls import path

from tests.support import context_views as views

urlpatterns = [
    path("hello", views.hello),
    path("hello-decorated", views.hello_decorated),
    path("hello-decorated-async", views.hello_decorated_async),
    path("hello-custom-close", views.hello_custom_close),
    path("keeps-session", views.keeps_session),
    path("async-view", views.async_view),
    path("without-wrapper", views.without_wrapper),
    path("echo", views.echo),
    path("aecho", views.aecho),
    path("echo-view", views.EchoView.as_view()),
    path("aecho-view", views.AsyncEchoView.as_view()),
]
