"""Content-Disposition: an ASCII fallback and RFC 5987 filename*, never an injection."""

from __future__ import annotations

import email.message
import email.utils
import re
from urllib.parse import unquote

import pytest
from django.http import HttpResponse
from hypothesis import given, settings
from hypothesis import strategies as st

from django_streamkit import StreamingCSVResponse
from django_streamkit._http import clean_filename, content_disposition

SHAPE = re.compile(
    r"attachment; filename=\"(?P<fallback>[ !#-\[\]-~]*)\"; "
    r"filename\*=utf-8''(?P<encoded>[A-Za-z0-9!#$&+\-.^_`|~%]+)"
)


@pytest.mark.parametrize(
    ("filename", "fallback", "exact"),
    [
        ("report.csv", "report.csv", "report.csv"),
        ("résumé 2024.csv", "resume 2024.csv", "résumé 2024.csv"),
        ("報告.csv", "download.csv", "報告.csv"),
        ("報告", "download", "報告"),
        ("../../etc/passwd", "passwd", "passwd"),
        ("C:\\Users\\me\\x.csv", "x.csv", "x.csv"),
        ('say "hi".csv', "say _hi_.csv", 'say "hi".csv'),
        ("100%.csv", "100_.csv", "100%.csv"),
        ("a\r\nSet-Cookie: x=1.csv", "aSet-Cookie: x=1.csv", "aSet-Cookie: x=1.csv"),
        ("evil\u202egpj.csv", "evilgpj.csv", "evilgpj.csv"),
        ("nul\x00.csv", "nul.csv", "nul.csv"),
        ("", "download", "download"),
        ("..", "download", "download"),
        ("dir/", "download", "download"),
    ],
)
def test_examples(filename: str, fallback: str, exact: str) -> None:
    value = content_disposition(filename)
    match = SHAPE.fullmatch(value)
    assert match, value
    assert match["fallback"] == fallback
    assert unquote(match["encoded"]) == exact


def test_inline() -> None:
    assert content_disposition("a.csv", attachment=False).startswith("inline; ")


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_no_filename_can_break_the_header(filename: str) -> None:
    value = content_disposition(filename)
    # One line of printable ASCII in the documented shape...
    assert value.isascii()
    assert all(" " <= c <= "~" for c in value), value
    match = SHAPE.fullmatch(value)
    assert match, value
    # ...whose filename* carries exactly the cleaned name, with no path in it,
    name = clean_filename(filename)
    assert unquote(match["encoded"], errors="strict") == name
    assert "/" not in name
    assert "\\" not in name
    assert name not in {"", ".", ".."}
    # ...which a standard MIME parser reads back (RFC 2231 decoding)...
    message = email.message.Message()
    message["Content-Disposition"] = value
    params = message.get_params(header="content-disposition")
    assert params[0] == ("attachment", "")
    assert [key for key, _ in params[1:]] == ["filename", "filename"]
    assert params[1][1] == match["fallback"]
    assert isinstance(params[2][1], tuple), "filename* is read as RFC 2231"
    assert email.utils.collapse_rfc2231_value(params[2][1]) == name
    # ...and which Django accepts and serializes as a single header line.
    response = HttpResponse()
    response["Content-Disposition"] = value
    serialized = response.serialize_headers()
    assert serialized.count(b"\r\n") == len(response.headers) - 1


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_any_filename_gives_a_valid_csv_response(filename: str) -> None:
    response = StreamingCSVResponse([[1]], filename=filename)
    assert SHAPE.fullmatch(response["Content-Disposition"])
    assert b"".join(response) == b"1\r\n"
