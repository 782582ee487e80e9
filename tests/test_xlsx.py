"""stream_xlsx, StreamingXLSXResponse and XLSXStreamView, read back by openpyxl.

openpyxl reads the cells' stored values and types (not what Excel would
show), so each test holds a value to exactly what it was written as.
LibreOffice and pandas read the same files in tests/test_xlsx_clients.py.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import io
import uuid
import zipfile
import zoneinfo
from collections.abc import AsyncIterator, Iterable
from typing import Any

import openpyxl
import pytest
from django.test import RequestFactory, override_settings
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from django_streamkit import StreamingXLSXResponse, stream_xlsx
from django_streamkit._writers import xlsx_sheet, xlsx_zip
from django_streamkit.views import XLSXStreamView
from django_streamkit.xlsx import CONTENT_TYPE
from tests.support.databases import each_database
from tests.support.testapp.models import Author, Book

UTC = datetime.UTC
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def workbook(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def values(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    return {
        sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in workbook(data)
    }


def written(rows: Iterable[Any], **options: Any) -> bytes:
    return b"".join(stream_xlsx(rows, **options))  # type: ignore[arg-type]


def test_every_type_reads_back_as_written() -> None:
    row = [
        7,
        -(10**15) + 1,
        2.5,
        -0.0,
        decimal.Decimal("1234.56"),
        True,
        False,
        None,
        "text",
        datetime.datetime(2024, 5, 1, 14, 30, 9, 250000),
        datetime.date(2024, 2, 29),
        datetime.time(23, 59, 58, 500000),
        uuid.UUID(int=1),
    ]
    data = written([row], header=[f"c{i}" for i in range(len(row))])
    (sheet,) = workbook(data)
    cells = next(iter(sheet.iter_rows(min_row=2)))
    got = [cell.value for cell in cells]
    assert got[:9] == [7, -(10**15) + 1, 2.5, -0.0, 1234.56, True, False, None, "text"]
    assert [type(v) for v in got[:7]] == [int, int, float, float, float, bool, bool]
    assert got[9] == row[9]
    # openpyxl reads a date with a date format as a datetime at midnight.
    assert got[10] == datetime.datetime(2024, 2, 29)
    assert got[11] == row[11]
    assert got[12] == "00000000-0000-0000-0000-000000000001"
    formats = [cell.number_format for cell in cells[9:12]]
    assert formats == ["yyyy-mm-dd hh:mm:ss", "yyyy-mm-dd", "hh:mm:ss"]
    assert [cell.data_type for cell in cells[:9]] == list("nnnnnbbns")


def test_strings_are_text_never_formulas_and_survive_xml() -> None:
    texts = [
        "=1+2",
        "+SUM(A1:A9)",
        "@cmd",
        "-3",
        "a < b & c > d",
        "quote \" and apostrophe '",
        "  padded  ",
        "line\nbreak",
        "crlf\r\nend",
        "emoji \N{SNAKE} and é",
        "",
    ]
    data = written([[text] for text in texts])
    (sheet,) = workbook(data)
    cells = [row[0] for row in sheet.iter_rows()]
    assert [c.value for c in cells[:-1]] == texts[:-1]
    assert all(c.data_type == "s" for c in cells[:-1])
    assert cells[-1].value == ""
    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml
    assert b't="str"' not in sheet_xml


def test_characters_xml_cannot_hold_are_replaced_visibly() -> None:
    data = written([["bell\x07 nul\x00 \ufffe lone \ud800 tab\tend"]])
    (row,) = values(data)["Sheet1"]
    assert row == ("bell\ufffd nul\ufffd \ufffd lone \ufffd tab\tend",)


def test_text_like_an_excel_escape_is_escaped() -> None:
    data = written([["_x0041_ stays"]])
    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    # Excel and LibreOffice decode _xHHHH_; its "_" escaped, they read the
    # text as written (tests/test_xlsx_clients.py); openpyxl decodes nothing.
    assert b"_x005F_x0041_ stays" in sheet_xml


def test_integers_beyond_a_doubles_precision_are_kept_as_text() -> None:
    (_, row) = values(written([[2**53 + 1, 10**15 - 1]], header=["a", "b"]))["Sheet1"]
    assert row == (str(2**53 + 1), 10**15 - 1)


def test_dates_before_excels_calendar_are_iso_text() -> None:
    old = [datetime.date(1899, 12, 31), datetime.datetime(1900, 1, 1, 12, 0)]
    (row,) = values(written([old]))["Sheet1"]
    assert row == ("1899-12-31", "1900-01-01T12:00:00")


@pytest.mark.parametrize(
    ("zone", "style", "shown"),
    [
        (PARIS, "local", datetime.datetime(2024, 7, 1, 14, 0)),
        (UTC, "local", datetime.datetime(2024, 7, 1, 12, 0)),
        (PARIS, "iso", datetime.datetime(2024, 7, 1, 12, 0)),
    ],
)
def test_aware_datetimes_are_written_in_the_current_time_zone(
    zone: datetime.tzinfo, style: str, shown: datetime.datetime
) -> None:
    aware = datetime.datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
    naive = datetime.datetime(2024, 7, 1, 9, 15)
    with (
        override_settings(STREAMKIT_CSV_DATETIME_FORMAT=style),
        timezone.override(zone),
    ):
        chunks = stream_xlsx([[aware, naive]])
    (row,) = values(b"".join(chunks))["Sheet1"]  # type: ignore[arg-type]
    assert row == (shown, naive)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("y" * 32_768, "32,768 characters is longer than a spreadsheet cell"),
        (float("nan"), "nan has no spreadsheet cell"),
        (decimal.Decimal("Infinity"), r"Decimal\('Infinity'\) has no spreadsheet"),
    ],
)
def test_a_value_no_cell_holds_is_an_error_naming_row_and_column(
    value: object, message: str
) -> None:
    rows = [[1, "a"], [2, "b"], [3, value]]
    with pytest.raises(ValueError, match=message) as error:
        written(rows, header=["n", "label"])
    assert str(error.value).startswith("Row 3, column 2 ('label'): ")


def test_the_longest_text_a_cell_holds_is_written_whole() -> None:
    (row,) = values(written([["z" * 32_767]]))["Sheet1"]
    assert row == ("z" * 32_767,)


def test_past_the_sheet_limit_rows_continue_on_new_sheets() -> None:
    rows = [[i, f"r{i}"] for i in range(10)]
    data = written(rows, header=["n", "name"], sheet_name="Orders", rows_per_sheet=4)
    sheets = values(data)
    assert list(sheets) == ["Orders", "Orders (2)", "Orders (3)", "Orders (4)"]
    assert all(sheet[0] == ("n", "name") for sheet in sheets.values())
    assert [row for sheet in sheets.values() for row in sheet[1:]] == [
        (i, f"r{i}") for i in range(10)
    ]
    assert [len(sheet) for sheet in sheets.values()] == [4, 4, 4, 2]
    for sheet in workbook(data):
        assert sheet.freeze_panes == "A2"
        assert sheet["A1"].font.b


def test_without_a_header_every_sheet_row_is_data() -> None:
    sheets = values(written([[i] for i in range(5)], rows_per_sheet=2))
    assert list(sheets.values()) == [[(0,), (1,)], [(2,), (3,)], [(4,)]]
    assert workbook(written([[1]])).active.freeze_panes is None


def test_a_long_sheet_name_is_cut_for_its_numbered_sheets() -> None:
    name = "A" * 31
    sheets = values(written([[1], [2]], sheet_name=name, rows_per_sheet=1))
    assert list(sheets) == [name, "A" * 27 + " (2)"]


def test_a_sheet_that_would_outgrow_a_zip_member_ends_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = xlsx_sheet.Workbook.__init__

    def small(self: xlsx_sheet.Workbook, *args: Any) -> None:
        original(self, *args)
        self.max_sheet_bytes = 3000

    monkeypatch.setattr(xlsx_sheet.Workbook, "__init__", small)
    rows = ([i, "x" * 100] for i in range(200))
    sheets = values(b"".join(stream_xlsx(rows, header=["n", "x"], chunk_size=512)))
    assert len(sheets) > 2
    assert [row[0] for sheet in sheets.values() for row in sheet[1:]] == list(
        range(200)
    )


def test_members_past_4_gib_into_the_archive_are_zip64(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = xlsx_zip.Zipper.__init__

    def low(self: xlsx_zip.Zipper, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.zip32_offsets = 5000  # as if the archive were past 4 GiB there

    monkeypatch.setattr(xlsx_zip.Zipper, "__init__", low)
    rows = [[i, "y" * 50] for i in range(3000)]
    data = written(rows, header=["n", "y"], rows_per_sheet=1000)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    # A local header with ZIP64 sizes: every member that starts past the
    # bound (and a few before it, which the bound overestimates), not the first.
    zip64 = {
        info.filename: data[info.header_offset + 18 : info.header_offset + 26]
        == b"\xff" * 8
        for info in archive.infolist()
    }
    assert not zip64["[Content_Types].xml"]
    assert all(zip64[i.filename] for i in archive.infolist() if i.header_offset > 5000)
    assert zip64["xl/workbook.xml"]
    assert zip64["xl/worksheets/sheet3.xml"]
    assert [row[0] for sheet in values(data).values() for row in sheet[1:]] == list(
        range(3000)
    )


def test_header_is_bold_frozen_and_widths_fit_the_first_rows() -> None:
    rows = [["a" * 30, 1, datetime.datetime(2024, 1, 1)], ["b", 2, None]]
    data = written(rows, header=[gettext_lazy("Name"), "n", "when"])
    sheet = workbook(data).active
    assert [c.value for c in sheet[1]] == ["Name", "n", "when"]
    assert all(c.font.b for c in sheet[1])
    assert not sheet["A2"].font.b
    assert sheet.freeze_panes == "A2"
    widths = [sheet.column_dimensions[c].width for c in "ABC"]
    assert widths == [32, 6, 21]


def test_dict_rows_follow_the_header() -> None:
    rows = [{"b": 2, "a": 1}, {"a": 3, "b": 4}]
    assert values(written(rows, header=["a", "b"]))["Sheet1"][1:] == [(1, 2), (3, 4)]
    with pytest.raises(ValueError, match="no value for \\['b'\\]"):
        written([{"a": 1}], header=["a", "b"])
    with pytest.raises(ValueError, match="pass header="):
        written([{"a": 1}])


def test_empty_rows_give_a_workbook_with_the_header_only() -> None:
    assert values(written([], header=["a", "b"])) == {"Sheet1": [("a", "b")]}
    assert values(written([])) == {"Sheet1": []}


def test_the_first_chunk_is_ready_before_the_second_row_is_read() -> None:
    made = []

    def rows() -> Any:
        for i in range(3):
            made.append(i)
            yield [i]

    chunks = stream_xlsx(rows(), header=["n"])
    first = next(chunks)  # type: ignore[call-overload]
    assert made == [0]
    assert first.startswith(b"PK\x03\x04")
    assert values(first + b"".join(chunks))["Sheet1"] == [("n",), (0,), (1,), (2,)]


def test_async_rows_give_an_async_iterator() -> None:
    async def rows() -> AsyncIterator[list[int]]:
        for i in range(5):
            yield [i, i * i]

    async def collect() -> bytes:
        chunks = stream_xlsx(rows(), header=["n", "square"])
        return b"".join([chunk async for chunk in chunks])  # type: ignore[union-attr]

    data = asyncio.run(collect())
    assert values(data)["Sheet1"][1:] == [(i, i * i) for i in range(5)]


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"sheet_name": "a/b"}, ValueError, "holds '/', which Excel refuses"),
        ({"sheet_name": "x" * 32}, ValueError, "longer than 31 characters"),
        ({"sheet_name": ""}, ValueError, "is empty"),
        ({"sheet_name": 3}, TypeError, "sheet_name must be a str"),
        ({"rows_per_sheet": 1, "header": ["a"]}, ValueError, "from 2 to 1,048,576"),
        ({"rows_per_sheet": 2_000_000}, ValueError, "rows_per_sheet must be"),
        ({"header": "abc"}, TypeError, "header must be a list"),
        ({"chunk_size": 0}, ValueError, "chunk_size must be a positive"),
        ({"dialect": "excel"}, TypeError, "Unknown option\\(s\\) \\['dialect'\\]"),
    ],
)
def test_bad_options_raise_at_call_time(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        stream_xlsx([[1]], **options)


def test_rows_that_are_not_rows_are_a_clear_error() -> None:
    with pytest.raises(TypeError, match="must be an iterable or async iterable"):
        stream_xlsx(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Each row must be a sequence"):
        written(["abc"])


def test_response_is_an_attachment_of_the_xlsx_type() -> None:
    response = StreamingXLSXResponse([[1]], filename="Zürich orders.xlsx")
    assert response["Content-Type"] == CONTENT_TYPE
    assert response["Content-Disposition"] == (
        'attachment; filename="Zurich orders.xlsx"; '
        "filename*=utf-8''Z%C3%BCrich%20orders.xlsx"
    )
    assert values(b"".join(response))["Sheet1"] == [(1,)]  # type: ignore[arg-type]


def test_an_error_in_the_first_row_is_raised_from_the_response() -> None:
    with pytest.raises(ValueError, match="Row 1, column 1"):
        StreamingXLSXResponse([[float("inf")]])


class BookWorkbook(XLSXStreamView):
    model = Book
    fields = ["title", "author__name", "genre", "rating", "price", "published"]
    labels = {"author__name": "Author"}
    choices_as_labels = ["genre"]


@pytest.mark.parametrize("db", each_database())
def test_xlsx_stream_view_writes_a_querysets_typed_columns(db: str) -> None:
    author = Author.objects.using(db).create(name="Ann")
    published = datetime.datetime(2024, 3, 4, 5, 6, 7, 125000, tzinfo=UTC)
    Book.objects.using(db).create(
        title="=cmd|' /C calc'!A0",
        author=author,
        genre="novel",
        rating=3,
        price=decimal.Decimal("12.50"),
        published=published,
    )
    Book.objects.using(db).create(
        title="Plain", author=author, genre="poetry", rating=1, price=None
    )
    view = BookWorkbook.as_view(queryset=Book.objects.using(db).order_by("id"))
    with timezone.override(PARIS):
        response = view(RequestFactory().get("/books.xlsx"))
    assert response["Content-Type"] == CONTENT_TYPE
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="books.xlsx"')
    data = b"".join(response)
    book = workbook(data)
    assert book.sheetnames == ["Books"]
    rows = list(book.active.iter_rows(values_only=True))
    assert rows == [
        ("Title", "Author", "Genre", "Rating", "Price", "Published"),
        (
            "=cmd|' /C calc'!A0",
            "Ann",
            "Novel",
            3,
            12.5,
            datetime.datetime(2024, 3, 4, 6, 6, 7, 125000),
        ),
        ("Plain", "Ann", "Poetry", 1, None, None),
    ]


def test_xlsx_stream_view_names_its_sheet_and_file() -> None:
    class Named(BookWorkbook):
        sheet_name = "Catalogue"
        filename = "catalogue.xlsx"

    request = RequestFactory().get("/")
    view = Named(request=request)
    view.object_list = view.get_queryset()
    assert view.get_sheet_name() == "Catalogue"
    assert view.get_filename() == "catalogue.xlsx"
    Named.sheet_name = "bad:name"
    with pytest.raises(ValueError, match="which Excel refuses"):
        view.get_sheet_name()


def test_safe_strings_and_other_str_subclasses_are_text() -> None:
    # format_html() gives SafeString, whose str() is itself: an admin
    # column's display values are often such strings.
    class Label(str):
        def __str__(self) -> str:
            return self

    rows = [[format_html("<b>{}</b>", "x"), Label("y")], [mark_safe("z"), 1]]
    assert values(written(rows))["Sheet1"] == [("<b>x</b>", "y"), ("z", 1)]


def test_a_missing_pandas_datetime_is_an_error_naming_its_cell() -> None:
    import pandas  # slow to import: only here

    rows = [[pandas.Timestamp("2024-01-01 12:00")], [pandas.NaT]]
    with pytest.raises(ValueError, match=r"Row 2, column 1 \('when'\): NaT has no"):
        written(rows, header=["when"])
    assert values(written(rows[:1], header=["when"]))["Sheet1"][1] == (
        datetime.datetime(2024, 1, 1, 12),
    )
