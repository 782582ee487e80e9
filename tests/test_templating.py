"""Streamed Jinja2 templates: lookup, context, buffering, errors, lazy values."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import jinja2
import pytest
from django.contrib import messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest
from django.middleware.csrf import _does_token_match
from django.template import TemplateDoesNotExist, TemplateSyntaxError, engines
from django.template.utils import InvalidTemplateEngineError
from django.test import AsyncClient, Client, RequestFactory, override_settings

from django_streamkit import (
    StreamingResponse,
    StreamingTemplateResponse,
    stream_template,
    stream_template_string,
)
from tests.support.databases import each_database
from tests.support.template_views import Counted
from tests.support.testapp.models import Row
from tests.test_responses import _body, asgi_get

rf = RequestFactory()


def jinja(alias: str = "jinja2") -> jinja2.Environment:
    env: jinja2.Environment = engines[alias].env  # type: ignore[attr-defined]
    return env


def text(pieces: Any) -> str:
    return "".join(pieces)


def body(response: Any) -> str:
    return b"".join(response.streaming_content).decode()


# -- lookup ----------------------------------------------------------------------------


def test_a_list_of_names_uses_the_first_that_exists() -> None:
    pieces = stream_template(
        None, ["stream/missing.html", "stream/child.html"], {"who": "x"}
    )
    assert text(pieces) == "<html><body>child of base: x</body></html>"


def test_missing_templates_raise_naming_every_name_tried() -> None:
    with pytest.raises(TemplateDoesNotExist) as info:
        stream_template(None, ["stream/nope.html", "stream/nada.html"])
    assert str(info.value) == "stream/nope.html, stream/nada.html"
    # Tried in every Jinja2 engine, name by name, as Django's loader does.
    assert [(e.args[0], e.backend.name) for e in info.value.chain] == [
        ("stream/nope.html", "jinja2"),
        ("stream/nope.html", "jinja2_async"),
        ("stream/nada.html", "jinja2"),
        ("stream/nada.html", "jinja2_async"),
    ]


def test_using_picks_the_engine() -> None:
    pieces = stream_template(
        None, "stream/child.html", {"who": "a"}, using="jinja2_async"
    )
    assert text(pieces) == "<html><body>child of base: a</body></html>"


def test_using_a_django_templates_engine_is_a_clear_error() -> None:
    with pytest.raises(InvalidTemplateEngineError) as info:
        stream_template(None, "stream/child.html", using="django")
    assert "using='django' is a DjangoTemplates engine" in str(info.value)
    assert "'jinja2', 'jinja2_async'" in str(info.value)


def test_an_unknown_engine_is_a_clear_error() -> None:
    with pytest.raises(
        InvalidTemplateEngineError, match="using='nope' is not a template"
    ):
        stream_template_string(None, "x", using="nope")


def test_no_jinja2_engine_says_how_to_add_one() -> None:
    django_only = [{"BACKEND": "django.template.backends.django.DjangoTemplates"}]
    with (
        override_settings(TEMPLATES=django_only),
        pytest.raises(
            InvalidTemplateEngineError, match=r"need a Jinja2 engine in TEMPLATES; add"
        ),
    ):
        stream_template(None, "stream/child.html")


@pytest.mark.parametrize("bad", [None, 3, ["ok.html", 4]])
def test_bad_template_name_is_a_type_error(bad: Any) -> None:
    with pytest.raises(TypeError, match="template_name must be"):
        stream_template(None, bad)


def test_empty_name_list_is_template_does_not_exist() -> None:
    with pytest.raises(TemplateDoesNotExist, match="No template names provided"):
        stream_template(None, [])


def test_context_must_be_a_mapping() -> None:
    with pytest.raises(TypeError, match=r"context must be a dict .*\[1, 2\]"):
        stream_template_string(None, "x", [1, 2])  # type: ignore[arg-type]


def test_syntax_errors_raise_when_the_stream_is_made() -> None:
    with pytest.raises(TemplateSyntaxError) as info:
        stream_template(None, "stream/broken.html")
    debug = info.value.template_debug  # type: ignore[attr-defined]
    assert debug["name"].endswith("stream/broken.html")
    assert debug["line"] == 3
    with pytest.raises(TemplateSyntaxError) as info:
        stream_template_string(None, "a\n{% if %}")
    assert info.value.template_debug["line"] == 2  # type: ignore[attr-defined]


# -- context ---------------------------------------------------------------------------


def test_context_as_djangos_backend_builds_it_but_the_view_wins() -> None:
    request = rf.get("/some/path")
    out = text(stream_template(request, "stream/context.html", {"title": "mine"}))
    token = out.split("token=")[1].split(";")[0]
    assert out.startswith("title=mine;site=Streamkit tests;token=")
    assert out.endswith(";path=/some/path")
    # The token was made before rendering: the cookie's secret matches it.
    assert _does_token_match(token, request.META["CSRF_COOKIE"])
    assert request.META["CSRF_COOKIE_NEEDS_UPDATE"] is True
    # Django's own backend lets the context processor win; we don't.
    django_render = (
        engines["jinja2"]
        .get_template("stream/context.html")
        .render({"title": "mine"}, rf.get("/some/path"))
    )
    assert django_render.startswith("title=from a context processor;")


def test_without_a_request_there_is_no_request_context() -> None:
    out = text(stream_template(None, "stream/context.html", {"title": "t"}))
    assert out == "title=t;site=;token=;path="


def test_csrf_cookie_is_set_on_the_streamed_response(client: Client) -> None:
    response = client.get("/templates/table?n=2")
    html = body(response)
    token = html.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    cookie = response.cookies["csrftoken"].value
    assert _does_token_match(token, cookie)
    assert "Cookie" in response["Vary"]


# -- buffering and coalescing ----------------------------------------------------------


SOURCE = "{% for i in range(40) %}<{{ i }}>{% endfor %}"


def jinja_pieces(size: int) -> list[str]:
    stream = jinja().from_string(SOURCE).stream()
    if size > 1:
        stream.enable_buffering(size)
    return list(stream)


def test_default_buffering_is_jinjas_enable_buffering_5() -> None:
    pieces = list(stream_template_string(None, SOURCE))
    assert pieces == jinja_pieces(5)
    assert len(pieces) == 24  # 120 template pieces (3 per row), 5 at a time


def test_buffer_size_setting_and_argument() -> None:
    with override_settings(STREAMKIT_TEMPLATE_BUFFER_SIZE=3):
        assert list(stream_template_string(None, SOURCE)) == jinja_pieces(3)
    assert list(stream_template_string(None, SOURCE, buffer_size=7)) == jinja_pieces(7)
    unbuffered = list(stream_template_string(None, SOURCE, buffer_size=1))
    assert unbuffered == list(jinja().from_string(SOURCE).generate())


def test_async_engine_buffers_the_same_way() -> None:
    async def collect() -> list[str]:
        pieces = stream_template_string(None, SOURCE, using="jinja2_async")
        assert isinstance(pieces, Iterator)  # no ASGI request: driven for a sync caller
        return list(pieces)

    assert asyncio.run(collect()) == jinja_pieces(5)


def test_first_piece_runs_to_the_first_row_of_a_lazy_source() -> None:
    rows = Counted(1000)
    response = StreamingTemplateResponse(
        None, "stream/table.html", {"rows": iter(rows)}
    )
    assert rows.read == 1  # rendered in the view: its query, its first error
    first = next(iter(response)).decode()
    assert first.startswith("<!doctype html>")
    assert '<tr id="r0">' in first
    assert '<tr id="r1">' not in first


def test_without_lazy_values_the_first_piece_is_jinjas_first() -> None:
    response = StreamingTemplateResponse(None, "stream/table.html", {"rows": [{}] * 9})
    assert next(iter(response)).decode() == jinja_pieces_of("stream/table.html")[0]


def test_first_piece_is_bounded_when_the_lazy_source_comes_late() -> None:
    source = (
        "{% for i in range(20000) %}<p>{{ i }}</p>{% endfor %}"
        "{% for r in rows %}{% endfor %}"
    )
    rows = Counted(10)
    with override_settings(STREAMKIT_CHUNK_SIZE=4096):
        pieces = stream_template_string(None, source, {"rows": iter(rows)})
        first = next(iter(pieces))
    assert 4096 <= len(first) < 4096 + 100
    assert rows.read == 0


def jinja_pieces_of(name: str) -> list[str]:
    stream = jinja().get_template(name).stream(rows=[{}] * 9)
    stream.enable_buffering(5)
    return list(stream)


@pytest.mark.parametrize("bad", [0, -1, 2.5, "5", True])
def test_bad_buffer_size_is_named(bad: Any) -> None:
    with pytest.raises(
        ValueError, match=r"buffer_size must be a positive number"
    ) as info:
        stream_template_string(None, "x", buffer_size=bad)
    assert repr(bad) in str(info.value)


def test_response_coalesces_template_pieces_into_chunks() -> None:
    rows = Counted(5000)
    response = StreamingTemplateResponse(
        rf.get("/"), "stream/table.html", {"rows": iter(rows)}
    )
    assert isinstance(response, StreamingResponse)
    assert response["Content-Type"] == "text/html; charset=utf-8"
    chunks = list(response)
    html = b"".join(chunks).decode()
    assert html.count("<tr ") == 5000
    assert html.rstrip().endswith("</html>")
    # ~15,000 buffered template pieces leave as a handful of ~64 KiB chunks.
    assert len(chunks) < 10
    assert len(chunks[0]) < 1024  # the first piece leaves on its own, at once
    assert rows.closed


def test_response_options() -> None:
    response = StreamingTemplateResponse(
        None,
        ["stream/child.html"],
        {"who": "x"},
        content_type="text/plain; charset=latin-1",
        status=203,
        headers={"X-A": "b"},
        using="jinja2",
    )
    assert response.status_code == 203
    assert response["X-A"] == "b"
    assert response["Content-Type"] == "text/plain; charset=latin-1"
    assert response.template_name == ["stream/child.html"]
    assert response.context_data == {"who": "x"}


# -- laziness and cleanup --------------------------------------------------------------


def test_generators_are_read_lazily_and_closed_when_the_response_is() -> None:
    rows = Counted(100_000)
    response = StreamingTemplateResponse(
        rf.get("/"), "stream/table.html", {"rows": iter(rows)}
    )
    assert rows.read <= 2  # primed: just the first piece, not the table
    iterator = iter(response)
    next(iterator)
    next(iterator)
    assert 0 < rows.read < 100_000
    response.close()
    assert rows.closed


def test_async_generator_in_a_sync_template() -> None:
    closed: list[bool] = []

    async def arows() -> AsyncIterator[dict[str, int]]:
        try:
            for i in range(300):
                await asyncio.sleep(0)
                yield {"name": "a", "value": i}
        finally:
            closed.append(True)

    response = StreamingTemplateResponse(None, "stream/table.html", {"rows": arows()})
    assert b"".join(response).decode().count("<tr ") == 300
    response.close()
    assert closed == [True]


@pytest.mark.parametrize("database", each_database())
def test_querysets_are_read_with_iterator_never_cached(database: str) -> None:
    Row.objects.using(database).bulk_create(
        Row(name=f"q{i}", value=i) for i in range(2500)
    )
    queryset = Row.objects.using(database).order_by("value")
    template = (
        "{{ rows|length }} {% if rows %}yes{% endif %}"
        "{% for r in rows %}[{{ r.value }}]{% endfor %}"
    )
    with override_settings(STREAMKIT_QUERYSET_CHUNK_SIZE=100):
        out = text(stream_template_string(None, template, {"rows": queryset}))
    assert out.startswith("2500 yes[0][1]")
    assert out.endswith("[2499]")
    assert queryset._result_cache is None  # never loaded as a whole


@pytest.mark.django_db
def test_an_evaluated_queryset_is_left_alone() -> None:
    Row.objects.create(name="x", value=1)
    queryset = Row.objects.all()
    list(queryset)
    out = text(stream_template_string(None, "{{ rows[0].name }}", {"rows": queryset}))
    assert out == "x"


def test_template_frame_in_traceback_of_a_late_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rows = Counted(20_000, fail_at=10_000)
    response = StreamingTemplateResponse(
        None, "stream/table.html", {"rows": iter(rows)}
    )
    with (
        caplog.at_level(logging.ERROR, logger="django_streamkit"),
        pytest.raises(RuntimeError, match="row 10000 failed"),
    ):
        list(response)
    (record,) = caplog.records
    assert "after the response started" in record.getMessage()
    assert rows.closed


# -- errors through the view -----------------------------------------------------------


def test_error_before_the_first_piece_raises_from_the_view(client: Client) -> None:
    with pytest.raises(RuntimeError, match="at row 0"):
        client.get("/templates/table?fail_after=0")


def test_debug_page_shows_the_template_frame(client: Client) -> None:
    client.raise_request_exception = False
    with override_settings(DEBUG=True):
        response = client.get("/templates/table?fail_after=0")
    assert response.status_code == 500
    page = response.content.decode()
    assert "RuntimeError" in page
    assert "stream/table.html" in page
    assert "{% for row in rows %}" in page  # the template's own line


def test_syntax_error_in_an_include_raises_from_the_view() -> None:
    with pytest.raises(TemplateSyntaxError) as info:
        StreamingTemplateResponse(None, "stream/includes_broken.html", buffer_size=1)
    assert info.value.template_debug["name"].endswith("broken.html")  # type: ignore[attr-defined]


def test_debug_page_for_a_syntax_error(client: Client) -> None:
    client.raise_request_exception = False
    with override_settings(DEBUG=True):
        response = client.get("/templates/table?template=stream/broken.html")
    assert response.status_code == 500
    page = response.content.decode()
    assert "TemplateSyntaxError" in page
    assert "In template" in page
    assert "stream/broken.html" in page
    assert "{{ row }&lt;/p&gt;" in page  # the offending line


def test_a_bad_engine_alias_is_a_500(client: Client) -> None:
    with pytest.raises(InvalidTemplateEngineError, match="using='nope'"):
        client.get("/templates/table?engine=nope")


def test_sync_view_with_an_async_engine_raises_early_errors_from_the_view(
    client: Client,
) -> None:
    with pytest.raises(RuntimeError, match="at row 0"):
        client.get("/templates/table?engine=jinja2_async&fail_after=0")
    html = body(client.get("/templates/table?engine=jinja2_async&n=50"))
    assert html.count("<tr ") == 50


# -- async: native under ASGI ----------------------------------------------------------


@pytest.mark.parametrize("source", ["gen", "agen"])
@pytest.mark.parametrize("engine", ["jinja2_async", "jinja2"])
def test_async_view_under_asgi(source: str, engine: str) -> None:
    messages, error = asyncio.run(
        asgi_get(f"/templates/async-table?engine={engine}&source={source}&n=3000")
    )
    assert error is None
    html = _body(messages).decode()
    assert html.count("<tr ") == 3000
    bodies = [m for m in messages if m["type"] == "http.response.body"]
    assert 2 < len(bodies) < 20  # coalesced chunks


def test_async_engine_renders_natively_on_the_request_loop() -> None:
    seen: dict[str, Any] = {}

    async def view() -> None:
        request = _asgi_request()
        loop = asyncio.get_running_loop()

        async def arows() -> AsyncIterator[int]:
            for i in range(3):
                seen.setdefault("loops", set()).add(asyncio.get_running_loop() is loop)
                yield i

        pieces = stream_template_string(
            request,
            "{% for i in rows %}{{ i }}{% endfor %}",
            {"rows": arows()},
            using="jinja2_async",
        )
        assert isinstance(pieces, AsyncIterator)
        seen["text"] = "".join([p async for p in pieces])

    asyncio.run(view())
    assert seen == {"loops": {True}, "text": "012"}


@pytest.mark.parametrize("engine", ["jinja2_async", "jinja2"])
def test_async_view_raises_early_errors_from_the_view(engine: str) -> None:
    messages, error = asyncio.run(
        asgi_get(f"/templates/async-table?engine={engine}&fail_after=0&source=agen")
    )
    assert error is None  # Django answered: a 500, not an aborted 200
    assert messages[0]["status"] == 500


@pytest.mark.parametrize("engine", ["jinja2_async", "jinja2"])
def test_async_view_mid_stream_error_is_an_abort(
    engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="django_streamkit"):
        messages, error = asyncio.run(
            asgi_get(f"/templates/async-table?engine={engine}&n=20000&fail_after=15000")
        )
    assert isinstance(error, RuntimeError)
    assert messages[0]["status"] == 200
    assert messages[-1].get("more_body") is True
    assert any(r.name == "django_streamkit" and r.exc_info for r in caplog.records)


@pytest.mark.parametrize("engine", ["jinja2_async", "jinja2"])
@pytest.mark.parametrize("source", ["gen", "agen"])
def test_asgi_disconnect_closes_the_template_source(
    engine: str, source: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMKIT_TEST_MARKERS", str(tmp_path))
    url = f"/templates/async-table?engine={engine}&source={source}&n=200000&token=t"
    messages, error = asyncio.run(asgi_get(url, disconnect_after=3))
    assert error is None
    assert (tmp_path / "t").read_text() == "closed"
    assert len([m for m in messages if m["type"] == "http.response.body"]) < 10


# On PostgreSQL: aiterator() reads on the request's worker thread, whose
# connection to an in-memory SQLite database Django never closes.
@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"], transaction=True)
def test_async_engine_reads_a_queryset_with_aiterator() -> None:
    Row.objects.using("postgres").bulk_create(
        Row(name=f"q{i}", value=i) for i in range(500)
    )
    messages, error = asyncio.run(
        asgi_get("/templates/async-table?engine=jinja2_async&source=qs&db=postgres")
    )
    assert error is None
    html = _body(messages).decode()
    assert html.count("<tr ") == 500
    assert "<td>q499</td>" in html


def test_async_client_records_the_template() -> None:
    async def get() -> tuple[Any, str]:
        response = await AsyncClient().get("/templates/async-view?n=5&source=agen")
        html = b"".join([part async for part in response.streaming_content])
        return response, html.decode()

    response, html = asyncio.run(get())
    assert [t.name for t in response.templates] == ["stream/table.html"]
    assert html.count("<tr ") == 5


def _asgi_request() -> HttpRequest:
    from django.core.handlers.asgi import ASGIRequest

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": [],
        "server": ("testserver", 80),
    }
    import io

    return ASGIRequest(scope, io.BytesIO())


# -- the session after the headers -----------------------------------------------------


@pytest.mark.django_db
def test_session_changed_while_streaming_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    request = rf.get("/")
    request.session = SessionStore()
    request.session["before"] = 1
    request.session.save()  # what SessionMiddleware does when the view returns

    def touch() -> str:
        request.session["after"] = 2
        return ""

    response = StreamingTemplateResponse(
        request,
        "stream/session.html",
        {"first": "x", "rows": range(50), "touch": touch},
        buffer_size=2,
    )
    with caplog.at_level(logging.WARNING, logger="django_streamkit"):
        assert b"".join(response).decode().endswith("done")
    (record,) = caplog.records
    assert "'stream/session.html' changed request.session" in record.getMessage()
    assert "NOT saved" in record.getMessage()


@pytest.mark.django_db
def test_session_changed_only_in_the_view_is_not_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    request = rf.get("/")
    request.session = SessionStore()
    request.session["before"] = 1
    response = StreamingTemplateResponse(
        request,
        "stream/session.html",
        {"first": "x", "rows": range(50), "touch": lambda: ""},
        buffer_size=2,
    )
    with caplog.at_level(logging.WARNING, logger="django_streamkit"):
        b"".join(response)
    assert caplog.records == []


def test_messages_first_shown_while_streaming_are_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    request = rf.get("/")
    storage = CookieStorage(request)
    request._messages = storage  # type: ignore[attr-defined]
    storage.add(messages.INFO, "saved")
    source = (
        "{{ first }}{% for r in rows %}[{{ r }}]{% endfor %}"
        "{% for m in messages %}<p>{{ m }}</p>{% endfor %}"
    )
    pieces = stream_template_string(
        request, source, {"first": "x", "rows": iter(range(20)), "messages": storage}
    )
    with caplog.at_level(logging.WARNING, logger="django_streamkit"):
        assert text(pieces).endswith("<p>saved</p>")
    (record,) = caplog.records
    assert "showed messages while its response was streaming" in record.getMessage()


def test_messages_shown_in_the_first_piece_are_not_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    request = rf.get("/")
    storage = CookieStorage(request)
    request._messages = storage  # type: ignore[attr-defined]
    storage.add(messages.INFO, "saved")
    source = (
        "{% for m in messages %}<p>{{ m }}</p>{% endfor %}"
        "{% for r in rows %}[{{ r }}]{% endfor %}"
    )
    pieces = stream_template_string(
        request, source, {"rows": iter(range(20)), "messages": storage}
    )
    with caplog.at_level(logging.WARNING, logger="django_streamkit"):
        assert text(pieces).startswith("<p>saved</p>")
    assert caplog.records == []
