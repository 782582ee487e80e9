"""Startup: a site that only streams needs no other app than django_streamkit.

Each test writes a minimal project (settings, URLconf, maybe an app) to a
temporary directory and runs ``manage.py check`` and a request in a fresh
interpreter, as INSTALLED_APPS cannot be shrunk inside this one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.servers import ROOT

SETTINGS = """
SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = {apps!r}
MIDDLEWARE = []
ROOT_URLCONF = "site_urls"
DATABASES = {{}}
USE_TZ = True
"""

URLS_STREAM = """
from django.urls import path
from django_streamkit import StreamingCSVResponse

def numbers(request):
    rows = ([i, i * i] for i in range(3))
    return StreamingCSVResponse(rows, header=["n", "square"], filename="n.csv")

urlpatterns = [path("numbers.csv", numbers)]
"""

# Run in the child: check, then one request; prints what it found as JSON.
PROBE = """
import io, json
import django
django.setup()
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client
out = io.StringIO()
try:
    call_command("check", stdout=out, stderr=out)
    check = "ok"
except SystemCheckError as exc:
    check = str(exc)
result = {"check": check}
path = PATH
if path:
    response = Client().get(path)
    result["status"] = response.status_code
    result["headers"] = dict(response.headers)
    result["body"] = b"".join(response.streaming_content).decode()
print(json.dumps(result))
"""


def run_site(
    tmp_path: Path,
    apps: list[str],
    urls: str,
    *,
    path: str = "",
    files: dict[str, str] | None = None,
) -> dict[str, object]:
    (tmp_path / "site_settings.py").write_text(SETTINGS.format(apps=apps))
    (tmp_path / "site_urls.py").write_text(textwrap.dedent(urls))
    for name, text in (files or {}).items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "site_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE.replace("PATH", repr(path))],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_streaming_needs_no_other_app(tmp_path: Path) -> None:
    result = run_site(tmp_path, ["django_streamkit"], URLS_STREAM, path="/numbers.csv")
    assert result["check"] == "ok"
    assert result["status"] == 200
    assert result["body"] == "n,square\r\n0,0\r\n1,1\r\n2,4\r\n"
    headers = result["headers"]
    assert isinstance(headers, dict)
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"n.csv\"; filename*=utf-8''n.csv"
    )


def test_the_exports_mounted_without_auth_are_a_check_error(tmp_path: Path) -> None:
    urls = """
    from django.urls import include, path
    urlpatterns = [path("exports/", include("django_streamkit.urls"))]
    """
    result = run_site(tmp_path, ["django_streamkit"], urls)
    check = result["check"]
    assert isinstance(check, str)
    assert "streamkit.E044" in check
    assert (
        "there is no 'django.contrib.auth' in INSTALLED_APPS and no "
        "'django.contrib.contenttypes' in INSTALLED_APPS and no "
        "'django.contrib.auth.middleware.AuthenticationMiddleware' in MIDDLEWARE"
    ) in check
    assert "streamkit.E049" not in check  # E044 says it already


SHOP = {
    "shop/__init__.py": "",
    "shop/models.py": """
        from django.db import models

        class Order(models.Model):
            number = models.CharField(max_length=20)
    """,
    "shop/exports.py": """
        from django_streamkit.exports import CSVExport, register
        from shop.models import Order

        @register
        class OrderExport(CSVExport):
            model = Order
            fields = ["number"]
    """,
}


def test_exports_registered_without_auth_are_a_check_error(tmp_path: Path) -> None:
    result = run_site(tmp_path, ["django_streamkit", "shop"], URLS_STREAM, files=SHOP)
    check = result["check"]
    assert isinstance(check, str)
    assert "streamkit.E049" in check
    assert "shop.exports.OrderExport is registered" in check
    assert (
        "Add 'django.contrib.auth' and 'django.contrib.contenttypes' to INSTALLED_APPS"
    ) in check
