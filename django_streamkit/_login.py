"""The exports' login redirect, importable without ``django.contrib.auth``.

Django's ``AccessMixin`` imports ``django.contrib.auth.views`` and with it the
auth and contenttypes models, which raise at startup when those apps are not
installed; a site that only streams must not need them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import resolve_url


class LoginRedirectMixin:
    """``AccessMixin``'s attributes and hooks."""

    login_url: str | None = None
    permission_denied_message: str = ""
    raise_exception: bool = False
    redirect_field_name: str | None = REDIRECT_FIELD_NAME
    request: HttpRequest

    def get_login_url(self) -> str:
        login_url = self.login_url or settings.LOGIN_URL
        if not login_url:
            raise ImproperlyConfigured(
                f"{type(self).__name__} is missing the login_url attribute. "
                f"Define {type(self).__name__}.login_url, settings.LOGIN_URL, "
                f"or override {type(self).__name__}.get_login_url()."
            )
        return str(login_url)

    def get_permission_denied_message(self) -> str:
        return self.permission_denied_message

    def get_redirect_field_name(self) -> str | None:
        return self.redirect_field_name

    def handle_no_permission(self) -> HttpResponseBase:
        """403 for signed-in users (or ``raise_exception``), else the login redirect."""
        if self.raise_exception or self.request.user.is_authenticated:
            raise PermissionDenied(self.get_permission_denied_message())
        # Imported here: it imports the auth models, which need the app.
        from django.contrib.auth.views import redirect_to_login

        path = self.request.build_absolute_uri()
        login = resolve_url(self.get_login_url())
        # As AccessMixin: the path alone when the login page is on this site.
        login_scheme, login_netloc = urlsplit(login)[:2]
        scheme, netloc = urlsplit(path)[:2]
        if (not login_scheme or login_scheme == scheme) and (
            not login_netloc or login_netloc == netloc
        ):
            path = self.request.get_full_path()
        return redirect_to_login(path, login, self.get_redirect_field_name())
