"""The exports' login redirect, importable without ``django.contrib.auth``.

Django's ``AccessMixin`` imports ``django.contrib.auth.views`` and with it the
auth and contenttypes models, which raise at startup when those apps are not
installed; a site that only streams must not need them. The redirect also
never points at a page the site does not have: when ``settings.LOGIN_URL``
is no URL of the URLconf (``/accounts/login/`` in a new project), anonymous
users go to the admin's login, if it is mounted (``streamkit.W050`` says so).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, Resolver404, get_script_prefix, resolve, reverse


class LoginRedirectMixin:
    """``AccessMixin``'s attributes and hooks, with the admin login fallback."""

    login_url: str | None = None
    permission_denied_message: str = ""
    raise_exception: bool = False
    redirect_field_name: str | None = REDIRECT_FIELD_NAME
    request: HttpRequest

    def get_login_url(self) -> str:
        if self.login_url:
            return str(self.login_url)
        if not settings.LOGIN_URL:
            raise ImproperlyConfigured(
                f"{type(self).__name__} is missing the login_url attribute. "
                f"Define {type(self).__name__}.login_url, settings.LOGIN_URL, "
                f"or override {type(self).__name__}.get_login_url()."
            )
        return fallback_login_url()

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


def fallback_login_url() -> str:
    """``settings.LOGIN_URL``, or the admin's login when it is no URL here."""
    configured = str(settings.LOGIN_URL)
    if login_target(configured) is None and (admin := admin_login_url()):
        return admin
    return configured  # a 404 if no page, as W050 warns


def login_target(configured: str) -> str | None:
    """The URL ``configured`` names, or ``None`` if it is no page of this site.

    Full URLs (another host) and relative paths are taken as they are.
    """
    try:
        url = resolve_url(configured)
    except NoReverseMatch:
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return url
    path = parts.path
    prefix = get_script_prefix()
    if prefix != "/" and path.startswith(prefix):
        path = "/" + path[len(prefix) :]
    candidates = [path]
    if settings.APPEND_SLASH and not path.endswith("/"):
        candidates.append(path + "/")  # CommonMiddleware's redirect
    for candidate in candidates:
        try:
            resolve(candidate)
        except Resolver404:
            continue
        return url
    return None


def admin_login_url() -> str | None:
    """The admin's login page, if the admin is installed and mounted."""
    if not apps.is_installed("django.contrib.admin"):
        return None
    try:
        return reverse("admin:login")
    except NoReverseMatch:
        return None
