"""stream_csv and StreamingCSVResponse, in process."""

from __future__ import annotations

import asyncio
import csv
import datetime
import io
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest
from django.http import HttpRequest
from django.test import Client, override_settings
from django.urls import path
from django.utils import translation
from django.utils.translation import gettext_lazy
from hypothesis import given, settings
from hypothesis import strategies as st

from django_streamkit import StreamingCSVResponse, stream_csv
from django_streamkit._core import feed
from django_streamkit._writers import csv_encoder
from django_streamkit._writers import csv_text as _csv_text
from django_streamkit._writers.csv_text import TRIGGERS, escape_cell


def body(rows: Any, **options: Any) -> bytes:
    return b"".join(stream_csv(rows, **options))  # type: ignore[arg-type]


def text(rows: Any, **options: Any) -> str:
    return body(rows, **options).decode()


def reference(rows: list[list[Any]], *, escape: bool = True, **fmt: Any) -> str:
    """What csv.writer makes of the rows, escaped cell by cell.

    As current Pythons write them: before Python 3.11.9 and 3.12.3
    csv quoted CR and LF in a cell only if the line terminator held them. A
    writer whose terminator holds both writes the newer bytes, plus a
    CRLF to cut from each line.
    """
    out = io.StringIO()
    terminator = csv.writer(out, **fmt).dialect.lineterminator
    writer = csv.writer(out, **{**fmt, "lineterminator": terminator + "\r\n"})
    for row in rows:
        writer.writerow([escape_cell(c) for c in row] if escape else row)
        out.seek(out.tell() - 2)
        out.truncate()
    return out.getvalue()


# -- values ------------------------------------------------------------------


def test_values_are_written_as_a_spreadsheet_user_expects() -> None:
    row = [
        None,
        True,
        False,
        42,
        1.5,
        Decimal("1.50"),
        datetime.date(2024, 1, 2),
        datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        datetime.time(3, 4, 5),
        uuid.UUID(int=1),
        "plain",
        'quote " and, comma',
        "line\nbreak",
    ]
    assert text([row]) == (
        ",True,False,42,1.5,1.50,2024-01-02,"
        "2024-01-02T03:04:05.000000,03:04:05.000000,"
        '00000000-0000-0000-0000-000000000001,plain,"quote "" and, comma",'
        '"line\nbreak"\r\n'
    )


def test_lazy_strings_are_resolved_in_the_active_language() -> None:
    with translation.override("de"):
        out = text(
            [[gettext_lazy("Yes"), gettext_lazy("No")]], header=[gettext_lazy("Yes")]
        )
    assert out == "Ja\r\nJa,Nein\r\n"


def test_the_header_is_resolved_when_stream_csv_is_called() -> None:
    with translation.override("de"):
        chunks = stream_csv([[1]], header=[gettext_lazy("Yes")])
    assert b"".join(chunks) == b"Ja\r\n1\r\n"  # type: ignore[arg-type]


def test_dict_rows_follow_the_header_order() -> None:
    rows = [{"b": 2, "a": 1}, {"a": 3}]
    assert text(rows, header=["a", "b"]) == "a,b\r\n1,2\r\n3,\r\n"


def test_dict_rows_need_a_header() -> None:
    with pytest.raises(TypeError, match=r"header= must list their keys.*\['b', 'a'\]"):
        text([{"b": 2, "a": 1}])


def test_dict_rows_with_unknown_keys_are_an_error() -> None:
    with pytest.raises(ValueError, match="'c'"):
        text([{"a": 1, "c": 3}], header=["a"])
    rows = [{"a": 1}] * 40 + [{"a": 2, "c": 3, "d": 4}]
    with pytest.raises(ValueError, match=r"^Row 41 ") as caught:
        body(rows, header=["a", "b"], chunk_size=16)
    assert str(caught.value) == (
        "Row 41 {'a': 2, 'c': 3, 'd': 4} has keys that are not in header: "
        "'c', 'd'; header is ['a', 'b']. Add them to header= (in column "
        "order), or leave them out of the rows."
    )


def test_rows_that_are_iterators_are_read_once() -> None:
    rows = (iter(["=x", i]) for i in range(3))
    assert text(rows) == "'=x,0\r\n'=x,1\r\n'=x,2\r\n"


def test_no_rows_gives_the_header_alone_or_nothing() -> None:
    assert text([], header=["a"]) == "a\r\n"
    assert body([]) == b""
    assert body([], bom=True) == b"\xef\xbb\xbf"
    assert body([], encoding="utf-8-sig") == b"\xef\xbb\xbf"
    assert body([], encoding="utf-16") == b"\xff\xfe"


# -- bad input ---------------------------------------------------------------


@pytest.mark.parametrize("rows", [5, None, "a,b\n", b"a,b", {"a": 1}])
def test_rows_that_are_not_an_iterable_of_rows_are_a_type_error(rows: Any) -> None:
    with pytest.raises(TypeError, match="rows must be an iterable") as info:
        stream_csv(rows)
    assert f"not {rows!r} ({type(rows).__name__})" in str(info.value)


@pytest.mark.parametrize(
    ("row", "message"),
    [("a,b", "not a string \\('a,b'\\)"), (7, "not 7 \\(int\\)")],
)
def test_a_row_that_is_not_a_sequence_is_a_type_error(row: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        text([row])


def test_a_string_header_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"pass a list such as \['name'\]"):
        stream_csv([], header="name")


def test_unknown_dialect_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown CSV dialect 'exel'.*'excel-tab'"):
        stream_csv([], dialect="exel")


def test_bad_format_options_raise_at_call_time() -> None:
    with pytest.raises((ValueError, TypeError), match="delimiter"):
        stream_csv([], delimiter=";;")


@pytest.mark.parametrize(
    ("option", "guess"),
    [
        ("delimeter", "did you mean 'delimiter'? Write delimiter=';'"),
        ("Quoting", "did you mean 'quoting'? Write quoting=';'"),
        ("escape_formula", "did you mean 'escape_formulas'?"),
        ("filname", "did you mean 'filename'?"),
        ("colour", "csv.writer's options are: delimiter, doublequote"),
    ],
)
def test_a_misspelt_format_option_is_quoted_with_the_right_one(
    option: str, guess: str
) -> None:
    with pytest.raises(ValueError, match=r"^Unknown CSV format option") as caught:
        stream_csv([], **{option: ";"})
    message = str(caught.value)
    assert message.startswith(f"Unknown CSV format option {option}=';'")
    assert guess in message
    with pytest.raises(ValueError, match=f"option {option}="):
        StreamingCSVResponse([], **{option: ";"})


def test_a_bad_value_of_a_format_option_is_quoted() -> None:
    with pytest.raises(ValueError, match=r"^Bad CSV format options") as caught:
        stream_csv([], quoting=99)
    assert str(caught.value).startswith("Bad CSV format options (quoting=99): ")


def test_unknown_encoding_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Unknown encoding 'utf-99'"):
        stream_csv([], encoding="utf-99")


def test_bom_needs_a_unicode_encoding() -> None:
    with pytest.raises(
        ValueError, match=r"bom=True needs a Unicode encoding.*'latin-1'"
    ):
        stream_csv([], encoding="latin-1", bom=True)


@pytest.mark.parametrize("size", [0, -1, 1.5, True, "64k"])
def test_bad_chunk_size(size: Any) -> None:
    with pytest.raises(ValueError, match="chunk_size must be a positive number"):
        stream_csv([], chunk_size=size)


# -- dialects and encodings ---------------------------------------------------


def test_dialects_and_their_options() -> None:
    rows = [["a b", "c;d", 1]]
    assert text(rows, dialect="excel-tab") == "a b\tc;d\t1\r\n"
    assert text(rows, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\n") == (
        '"a b";"c;d";"1"\n'
    )
    assert text(rows, dialect="unix") == '"a b","c;d","1"\n'


def test_line_breaks_in_cells_are_quoted_whatever_the_line_terminator() -> None:
    # Python's csv before 3.11.9 and 3.12.3 wrote these bare, so they read
    # back as two rows (before Python 3.11.9 and 3.12.3); the bytes are the newer ones.
    assert text([["a\rb", "c"]], lineterminator="\n") == '"a\rb",c\n'
    assert text([["a\nb"]], lineterminator="\r") == '"a\nb"\r'
    assert text([{"k\r": "x\ry"}], header=["k\r"], lineterminator="\n") == (
        '"k\r"\n"x\ry"\n'
    )
    assert text(
        [["a\rb", "c"]], quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n"
    ) == ("a\\\rb,c\n")
    with pytest.raises(csv.Error, match="need to escape"):
        text([["a\rb"]], quoting=csv.QUOTE_NONE, lineterminator="\n")


def test_what_csv_cannot_write_names_the_row_and_the_fix() -> None:
    with pytest.raises(csv.Error) as caught:
        text([["a"], ["b,c"]], quoting=csv.QUOTE_NONE)
    assert str(caught.value) == (
        "Row 2 ['b,c'] cannot be written in this CSV format (need to escape, "
        "but no escapechar set); pass escapechar= (e.g. '\\\\') or use a "
        "quoting that quotes it."
    )
    with pytest.raises(csv.Error, match=r"^The header \[''\] cannot be written"):
        text([["a"]], header=[""], quoting=csv.QUOTE_NONE, escapechar="\\")
    with pytest.raises(csv.Error, match=r"^Row 1 \{'k': None\} .* csv.QUOTE_NONE"):
        text([{"k": None}], header=["k"], quoting=csv.QUOTE_NONE, escapechar="\\")


@pytest.mark.parametrize(
    ("rows", "header", "where"),
    [
        ([["Ann", "Paris"], ["Li", "北京"]], ["name", "city"], "row 2, column 'city'"),
        ([["Ann", "Paris"]] * 50 + [["Li", "北京"]], None, "row 51, column 2"),
        ([{"city": "北京", "name": "Li"}], ["name", "city"], "row 1, column 'city'"),
        ([["Li"]], ["名前"], "the header, column 1"),
        ([], ["name", "名前"], "the header, column 2"),
    ],
)
def test_a_cell_the_encoding_cannot_hold_names_row_column_and_fix(
    rows: list[Any], header: list[str] | None, where: str
) -> None:
    with pytest.raises(UnicodeEncodeError) as caught:
        body(rows, header=header, encoding="cp1252", chunk_size=16)
    assert caught.value.encoding == "cp1252"
    assert str(caught.value).startswith("'cp1252' codec can't encode character '\\u")
    assert str(caught.value).endswith(
        f": {where} has a character that 'cp1252' cannot write; pass "
        "encoding='utf-8' (bom=True for Excel), or replace such characters "
        "in the data: text.encode('cp1252', 'replace').decode('cp1252')."
    )


def test_a_lone_surrogate_names_row_and_column() -> None:
    with pytest.raises(UnicodeEncodeError) as caught:
        body([["ok", "a\ud800b"]])
    assert str(caught.value).endswith(
        ": row 1, column 2 has a lone surrogate, which is no character and no "
        "encoding writes; replace it in the data: "
        "text.encode('utf-8', 'replace').decode('utf-8')."
    )


def test_bom_and_encodings() -> None:
    rows = [["é", "ü"]] * 3
    assert body(rows, bom=True).startswith(b"\xef\xbb\xbf\xc3\xa9,")
    assert body(rows, encoding="cp1252") == b"\xe9,\xfc\r\n" * 3
    many = [["é", i] for i in range(5000)]
    utf16 = body(many, encoding="utf-16", chunk_size=1024)
    assert utf16.count(b"\xff\xfe") == 1, "one byte order mark, however many chunks"
    assert utf16.decode("utf-16") == reference(many)
    with_bom = body(many, encoding="utf-16-le", bom=True, chunk_size=1024)
    assert with_bom.decode("utf-16-le") == "\ufeff" + reference(many)


# -- formula escaping -----------------------------------------------------------


@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_string_cells_starting_with_a_trigger_are_escaped(trigger: str) -> None:
    cell = f"{trigger}1+1"
    out = text([["ok", cell, "ok"]])
    assert out == reference([["ok", f"'{cell}", "ok"]], escape=False)
    assert next(csv.reader(io.StringIO(out)))[1] == f"'{cell}"


def test_numbers_and_other_values_are_never_touched() -> None:
    row = [-5, -1.5, Decimal("-2.50"), -0.0, True, None, datetime.date(2024, 1, 1)]
    assert text([row]) == "-5,-1.5,-2.50,-0.0,True,,2024-01-01\r\n"


def test_objects_whose_text_starts_with_a_trigger_are_escaped() -> None:
    class Formula:
        def __str__(self) -> str:
            return "=HYPERLINK(1)"

    assert text([[Formula(), gettext_lazy("-x")]]) == "'=HYPERLINK(1),'-x\r\n"


def test_header_cells_are_escaped_too() -> None:
    assert text([], header=["=sum", "ok"]) == "'=sum,ok\r\n"


def test_a_trigger_deep_in_the_stream_is_escaped() -> None:
    rows: list[list[Any]] = [[f"row {i}", i] for i in range(20000)]
    rows[12345][0] = "@SUM(A1)"
    rows[19999][1] = "+1"
    out = text(rows, chunk_size=4096)
    assert out == reference(rows)
    assert "\r\n'@SUM(A1),12345\r\n" in out


def test_escaping_is_off_per_call_or_by_setting() -> None:
    rows = [["=1+1", "-x"]]
    assert text(rows, escape_formulas=False) == "=1+1,-x\r\n"
    with override_settings(STREAMKIT_CSV_ESCAPE_FORMULAS=False):
        assert text(rows) == "=1+1,-x\r\n"
        assert text(rows, escape_formulas=True) == "'=1+1,'-x\r\n"


def test_structural_triggers_are_found_behind_quotes() -> None:
    # \r is part of the excel line terminator and tab is excel-tab's delimiter:
    # inside a cell csv quotes them, and the check must still see them.
    assert text([["\rx", "a"]]) == '"\'\rx",a\r\n'
    assert text([["\tx", "a"]], dialect="excel-tab") == '"\'\tx"\ta\r\n'
    assert text([["a", ""], ["b", None]]) == "a,\r\nb,\r\n"


def test_a_batch_is_only_rewritten_when_it_may_hold_a_formula(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rewrites = []
    escape_row = csv_encoder.escape_row

    def counting(row: Any, *keep: Any) -> Any:
        rewrites.append(row)
        return escape_row(row, *keep)

    monkeypatch.setattr(csv_encoder, "escape_row", counting)
    # Dashes, at-signs and pluses inside cells are not at a cell's start.
    rows = [
        [f"2024-01-{i % 28 + 1:02d}", f"u{i}@example.com", "a+b", i]
        for i in range(5000)
    ]
    assert text(rows, chunk_size=4096) == reference(rows)
    assert rewrites == []
    assert text([["x"], ["=y"]]) == "x\r\n'=y\r\n"
    assert len(rewrites) == 1
    # A negative number may be a formula as far as the check can tell: its
    # batch is rewritten, and the number is left alone.
    assert text([["x"], [-1]]) == "x\r\n-1\r\n"
    assert len(rewrites) == 2


text_dialects = st.sampled_from(
    [
        {},
        {"dialect": "excel-tab"},
        {"dialect": "unix"},
        {"delimiter": " "},
        {"delimiter": " ", "skipinitialspace": True},
        {"lineterminator": "\n"},
        {"lineterminator": "\r"},
        {"lineterminator": "ab"},
        {"escapechar": "\\"},
        {"quotechar": "'", "delimiter": ";"},
        {"doublequote": False, "escapechar": "\\"},
    ]
)
text_cells = st.text(
    alphabet=st.sampled_from(list("ab1 ,;'\"\\\t\r\n\x00\x0b\x0c\x1c\u2028\x85=-é")),
    max_size=5,
)


def assert_writes_as_csv_writer(
    rows: list[list[Any]], fmt: dict[str, Any], escape: bool, chunk_size: int
) -> None:
    """Our bytes are csv.writer's over cell-by-cell escaped rows, and where
    csv.writer refuses the rows, so do we."""
    try:
        expected = reference(rows, escape=escape, **fmt)
    except csv.Error:
        with pytest.raises(csv.Error):
            text(rows, escape_formulas=escape, chunk_size=chunk_size, **fmt)
        return
    assert text(rows, escape_formulas=escape, chunk_size=chunk_size, **fmt) == expected


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.lists(text_cells, max_size=4), max_size=30),
    fmt=text_dialects,
    escape=st.booleans(),
    chunk_size=st.sampled_from([1, 64, 4096]),
)
def test_text_rows_written_by_join_equal_csv_writer(
    rows: list[list[str]], fmt: dict[str, Any], escape: bool, chunk_size: int
) -> None:
    """The str.join fast path never changes a byte of what csv.writer writes."""
    assert_writes_as_csv_writer(rows, fmt, escape, chunk_size)


def test_plain_text_takes_the_join_path_and_other_rows_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    joined: list[bool] = []
    join = _csv_text.PlainJoin._join

    def spy(self: _csv_text.PlainJoin, batch: list[Any]) -> str | None:
        result = join(self, batch)
        joined.append(result is not None)
        return result

    monkeypatch.setattr(_csv_text.PlainJoin, "_join", spy)
    plain = [[f"row {i}", "lorem ipsum"] for i in range(20000)]
    assert text(plain, chunk_size=4096) == reference(plain)
    assert joined
    assert all(joined)
    joined.clear()
    quoted = [[f"row {i}", "lorem, ipsum"] for i in range(20000)]
    assert text(quoted, chunk_size=4096) == reference(quoted)
    assert not any(joined)
    assert len(joined) < 20, "rows that never fit are tried less and less"


formula_dialects = st.sampled_from(
    [
        {},
        {"dialect": "excel-tab"},
        {"dialect": "unix"},
        {"delimiter": ";", "quoting": csv.QUOTE_ALL},
        {"quoting": csv.QUOTE_NONNUMERIC},
        {"lineterminator": "\n", "delimiter": "-"},
        {"quoting": csv.QUOTE_NONE, "escapechar": "\\", "delimiter": "|"},
        {"quoting": csv.QUOTE_NONE, "escapechar": "=", "lineterminator": "\r"},
    ]
)
cells = st.one_of(
    st.text(alphabet=st.sampled_from(list("=+-@\t\r\n,;|\"'\\ ab1")), max_size=6),
    st.integers(-5, 5),
    st.none(),
    st.decimals(-10, 10, places=1),
)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.lists(cells, min_size=1, max_size=4), max_size=40),
    fmt=formula_dialects,
    escape=st.booleans(),
    chunk_size=st.sampled_from([1, 16, 4096]),
)
def test_the_pre_check_never_misses_a_formula(
    rows: list[list[Any]], fmt: dict[str, Any], escape: bool, chunk_size: int
) -> None:
    """Batched output always equals csv.writer over cell-by-cell escaped rows."""
    assert_writes_as_csv_writer(rows, fmt, escape, chunk_size)


# -- chunking ------------------------------------------------------------------


def test_the_first_chunk_is_the_header_and_first_row_then_about_chunk_size() -> None:
    rows = ([f"row {i}", "lorem ipsum dolor sit amet", i] for i in range(100_000))
    chunks = list(stream_csv(rows, header=["a", "b", "c"], chunk_size=16384))  # type: ignore[arg-type]
    assert chunks[0] == b"a,b,c\r\nrow 0,lorem ipsum dolor sit amet,0\r\n"
    middle = [len(c) for c in chunks[3:-1]]
    assert middle, "many chunks"
    assert all(12000 < size < 24000 for size in middle), middle[:20]
    assert b"".join(chunks).count(b"\r\n") == 100_001


def test_default_chunk_size_comes_from_the_setting() -> None:
    rows = [["x" * 50]] * 10000
    with override_settings(STREAMKIT_CHUNK_SIZE=8192):
        sizes = [len(c) for c in stream_csv(rows)][3:-1]  # type: ignore[arg-type]
    assert sizes
    assert all(6000 < size < 12000 for size in sizes), sizes


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


def test_a_slow_source_still_flows_in_small_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(feed, "time", clock)

    def slow() -> Iterator[list[int]]:
        for i in range(200):
            clock.now += 0.03  # each row takes 30 ms; MAX_LATENCY is 100 ms
            yield [i]

    sizes = [chunk.count(b"\n") for chunk in stream_csv(slow(), chunk_size=65536)]  # type: ignore[union-attr]
    assert sum(sizes) == 200
    assert max(sizes) <= 4, sizes


def test_async_rows_give_an_async_iterator_with_the_same_bytes() -> None:
    rows = [[f"row {i}", "=x" if i % 1000 == 7 else i] for i in range(30000)]

    async def arows() -> AsyncIterator[list[Any]]:
        for row in rows:
            yield row

    async def collect() -> list[bytes]:
        stream = stream_csv(arows(), header=["a", "b"], chunk_size=4096)
        assert hasattr(stream, "__anext__")
        return [chunk async for chunk in stream]  # type: ignore[union-attr]

    chunks = asyncio.run(collect())
    assert chunks[0] == b"a,b\r\nrow 0,0\r\n"
    assert b"".join(chunks) == body(rows, header=["a", "b"])
    assert len(chunks) > 10


def test_async_dict_rows_and_empty_async_source() -> None:
    async def arows(n: int) -> AsyncIterator[dict[str, int]]:
        for i in range(n):
            yield {"a": i}

    async def collect(n: int, **options: Any) -> bytes:
        return b"".join([c async for c in stream_csv(arows(n), **options)])  # type: ignore[union-attr]

    assert asyncio.run(collect(2, header=["a"])) == b"a\r\n0\r\n1\r\n"
    assert asyncio.run(collect(0, header=["a"])) == b"a\r\n"


def test_async_slow_source_is_cut_by_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(feed, "time", clock)

    async def slow() -> AsyncIterator[list[int]]:
        for i in range(100):
            clock.now += 0.03
            yield [i]

    async def collect() -> list[int]:
        return [c.count(b"\n") async for c in stream_csv(slow())]  # type: ignore[union-attr]

    sizes = asyncio.run(collect())
    assert sum(sizes) == 100
    assert max(sizes) <= 4, sizes


# -- the response ----------------------------------------------------------------


def test_response_headers() -> None:
    response = StreamingCSVResponse([[1]], filename="report.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        "attachment; filename=\"report.csv\"; filename*=utf-8''report.csv"
    )
    assert response["X-Accel-Buffering"] == "no"
    assert response.status_code == 200
    assert b"".join(response) == b"1\r\n"


def test_response_without_filename_is_inline_and_options_pass_through() -> None:
    response = StreamingCSVResponse(
        [["é"]],
        encoding="cp1252",
        status=201,
        headers={"X-Export": "yes"},
        delimiter=";",
    )
    assert "Content-Disposition" not in response
    assert response["Content-Type"] == "text/csv; charset=cp1252"
    assert response["X-Export"] == "yes"
    assert response.status_code == 201
    assert b"".join(response) == b"\xe9\r\n"


def test_response_headers_may_override_the_defaults() -> None:
    response = StreamingCSVResponse(
        [[1]],
        filename="x.csv",
        headers={"Content-Type": "text/plain", "Content-Disposition": "inline"},
    )
    assert response["Content-Type"] == "text/plain"
    assert response["Content-Disposition"] == "inline"


def test_a_lazy_filename_is_resolved_and_a_bad_one_is_a_type_error() -> None:
    with translation.override("de"):
        response = StreamingCSVResponse([], filename=gettext_lazy("Yes"))
    assert response["Content-Disposition"].endswith("filename*=utf-8''Ja")
    with pytest.raises(TypeError, match=r"filename must be a str, not 5 \(int\)"):
        StreamingCSVResponse([], filename=5)  # type: ignore[arg-type]


def bad_csv(request: HttpRequest) -> StreamingCSVResponse:
    kind = request.GET["kind"]
    if kind == "option":
        return StreamingCSVResponse([[1]], delimeter=";")
    if kind == "encoding":
        return StreamingCSVResponse([["北京"]], header=["city"], encoding="cp1252")
    return StreamingCSVResponse([{"a": 1, "c": 2}], header=["a"])


@pytest.mark.parametrize(
    ("kind", "error", "message"),
    [
        ("option", ValueError, "did you mean 'delimiter'?"),
        ("encoding", UnicodeEncodeError, "row 1, column 'city' has a character"),
        ("keys", ValueError, "has keys that are not in header: 'c'"),
    ],
)
def test_bad_options_and_cells_before_the_first_byte_are_a_500_from_the_view(
    kind: str, error: type[Exception], message: str
) -> None:
    urlconf = ModuleType("urlconf")
    urlconf.urlpatterns = [path("bad.csv", bad_csv)]  # type: ignore[attr-defined]
    with override_settings(ROOT_URLCONF=urlconf):
        with pytest.raises(error) as caught:
            Client().get("/bad.csv", {"kind": kind})
        assert message in str(caught.value)
        response = Client(raise_request_exception=False).get("/bad.csv", {"kind": kind})
    assert response.status_code == 500


def test_an_error_in_the_first_row_is_raised_from_the_view() -> None:
    closed = []

    def rows() -> Iterator[list[str]]:
        try:
            yield [str(1 / 0)]
        finally:
            closed.append(True)

    with pytest.raises(ZeroDivisionError):
        StreamingCSVResponse(rows(), header=["a"])
    assert closed == [True]


def test_an_error_later_is_raised_while_streaming() -> None:
    def rows() -> Iterator[list[int]]:
        yield [1]
        yield [2]
        raise RuntimeError("row 3")

    response = StreamingCSVResponse(rows())
    with pytest.raises(RuntimeError, match="row 3"):
        b"".join(response)


def test_stream_csv_chunks_pass_through_the_response_unchanged(settings: Any) -> None:
    # Chunks sized by bytes alone: a loaded machine must not make either
    # side send early for latency.
    settings.STREAMKIT_MAX_LATENCY = 60
    rows = [[f"row {i}", "lorem ipsum dolor sit amet"] for i in range(50000)]
    pieces = list(stream_csv(rows))  # type: ignore[arg-type]
    chunks = list(StreamingCSVResponse(rows))
    assert b"".join(chunks) == b"".join(pieces)
    assert len(chunks) <= len(pieces) + 1


def test_test_client_download(client: Any) -> None:
    response = client.get("/csv/lines.csv?n=3")
    assert response.streaming
    assert response["Content-Disposition"].startswith(
        'attachment; filename="lines.csv"'
    )
    assert b"".join(response.streaming_content) == (
        b"name,number\r\nrow 0,0\r\nrow 1,1\r\nrow 2,2\r\n"
    )


def test_first_row_error_is_a_500_from_the_view(client: Any) -> None:
    client.raise_request_exception = False
    assert client.get("/csv/failing.csv?at=0").status_code == 500


def test_the_row_source_is_closed_on_completion_error_and_early_close() -> None:
    events: list[str] = []

    def rows(n: int, fail: bool = False) -> Iterator[list[int]]:
        try:
            for i in range(n):
                if fail and i == n - 1:
                    raise RuntimeError("late")
                yield [i]
        finally:
            events.append("closed")

    assert body(rows(10)).count(b"\n") == 10
    with pytest.raises(RuntimeError):
        body(rows(10, fail=True))
    chunks = stream_csv(rows(100_000), chunk_size=1024)
    next(chunks)  # type: ignore[call-overload]
    chunks.close()  # type: ignore[union-attr]
    assert events == ["closed", "closed", "closed"]


def test_the_async_row_source_is_closed_early() -> None:
    events: list[str] = []

    async def rows() -> AsyncIterator[list[int]]:
        try:
            for i in range(100_000):
                yield [i]
        finally:
            events.append("closed")

    async def take_one() -> None:
        chunks = stream_csv(rows())
        await chunks.__anext__()  # type: ignore[union-attr]
        await chunks.aclose()  # type: ignore[union-attr]

    asyncio.run(take_one())
    assert events == ["closed"]


def test_the_response_streams_under_an_event_loop_as_under_asgi() -> None:
    async def arows() -> AsyncIterator[list[Any]]:
        for i in range(20000):
            yield [i, "=x"]

    def rows() -> Iterator[list[Any]]:
        for i in range(20000):
            yield [i, "=x"]

    async def collect(source: Any) -> bytes:
        # Built inside the loop, as in an async view: nothing is primed.
        response = StreamingCSVResponse(source, header=["n", "f"])
        return b"".join([chunk async for chunk in response])

    expected = body(rows(), header=["n", "f"])
    assert asyncio.run(collect(arows())) == expected
    assert asyncio.run(collect(rows())) == expected
