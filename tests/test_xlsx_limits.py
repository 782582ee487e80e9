"""What Excel itself can't hold: its digits, its number range, its columns and
its sheet names. Each is either kept (as text) or refused with a clear error,
never written as a workbook that Excel rounds, repairs or refuses."""

from __future__ import annotations

import csv
import decimal
import io
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.dom import minidom

import openpyxl
import pytest
from django.test import RequestFactory

from django_streamkit import stream_xlsx
from django_streamkit.views import XLSXStreamView
from tests.support.testapp.models import Book
from tests.test_xlsx_clients import soffice


def written(rows: Iterable[Any], **options: Any) -> bytes:
    return b"".join(stream_xlsx(rows, **options))  # type: ignore[arg-type]


def first_row(data: bytes) -> tuple[Any, ...]:
    (sheet,) = openpyxl.load_workbook(io.BytesIO(data))
    return next(sheet.iter_rows(values_only=True))


def test_integers_past_excels_15_digits_are_kept_as_text() -> None:
    # Excel keeps 15 significant digits: 2**53 - 1 would show as ...990.
    largest = 10**15 - 1
    row = [largest, -largest, 10**15, -(10**15), 2**53 - 1, 1234567890123456]
    assert first_row(written([row])) == (
        largest,
        -largest,
        *(str(n) for n in row[2:]),
    )


def test_decimals_beyond_a_doubles_range_are_kept_as_text() -> None:
    # As numbers they read back as infinity (openpyxl) or a broken cell.
    huge, tiny = decimal.Decimal("1E+400"), decimal.Decimal("-2.5E+309")
    ok = decimal.Decimal("1.5E+300")
    assert first_row(written([[huge, tiny, ok]])) == ("1E+400", "-2.5E+309", 1.5e300)


@pytest.mark.parametrize("name", ["a\x01b", "tab\there", "line\nbreak", "\ufffe"])
def test_a_sheet_name_with_a_control_character_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="control character"):
        stream_xlsx([[1]], sheet_name=name)


def every_part_parses(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            minidom.parseString(archive.read(name))


def test_a_header_wider_than_excels_16384_columns_is_refused() -> None:
    with pytest.raises(ValueError, match=r"16,385 columns.*16,384"):
        stream_xlsx([], header=[f"c{i}" for i in range(16_385)])
    data = written([], header=[f"c{i}" for i in range(16_384)])
    every_part_parses(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = minidom.parseString(archive.read("xl/worksheets/sheet1.xml"))
    assert len(sheet.getElementsByTagName("c")) == 16_384
    assert len(sheet.getElementsByTagName("col")) == 16_384


@pytest.mark.parametrize("uneven", [False, True])
def test_a_row_wider_than_excels_16384_columns_is_an_error(uneven: bool) -> None:
    rows: list[list[int]] = [[1, 2]] * 3 + [[0] * 16_385]
    if uneven:
        rows.append([1])
    with pytest.raises(ValueError, match="Row 4 has 16,385 cells"):
        written(rows, header=["a", "b"])


def sheet_names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        workbook = minidom.parseString(archive.read("xl/workbook.xml"))
    return [
        sheet.getAttribute("name") for sheet in workbook.getElementsByTagName("sheet")
    ]


@pytest.mark.parametrize(
    "name", ["A" * 27 + " (2)", "a" * 27 + " (3)", "Ab" * 13 + "A (2)"]
)
def test_numbered_sheets_never_repeat_a_full_length_name(name: str) -> None:
    data = written([[1], [2], [3]], header=["h"], sheet_name=name, rows_per_sheet=2)
    names = sheet_names(data)
    assert names[0] == name
    assert len({n.casefold() for n in names}) == 3
    assert all(len(n) <= 31 for n in names)


def test_dict_rows_are_read_by_the_header_keys_themselves() -> None:
    # As stream_csv reads them: the labels are the keys' text, the keys
    # stay what they are.
    rows = [{1: "one", 2.5: "two and a half"}]
    assert first_row(written(rows, header=[1, 2.5])) == ("1", "2.5")
    (sheet,) = openpyxl.load_workbook(io.BytesIO(written(rows, header=[1, 2.5])))
    assert list(sheet.iter_rows(values_only=True))[1] == ("one", "two and a half")


def test_libreoffice_reads_the_limits_as_written(tmp_path: Path) -> None:
    # LibreOffice renamed the repeated sheet ("... (2) -1") and read the huge
    # Decimal as infinity ("INF") before these were kept.
    name = "A" * 27 + " (2)"
    rows = [[n, 10**15 + n, decimal.Decimal("1E+400")] for n in range(3)]
    source = tmp_path / "limits.xlsx"
    source.write_bytes(
        written(rows, header=["n", "id", "d"], sheet_name=name, rows_per_sheet=2)
    )
    soffice(
        tmp_path,
        source,
        "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,true,true,false,false,false,-1",
    )
    sheets = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert sheets == sorted(f"limits-{n}.csv" for n in sheet_names(source.read_bytes()))
    assert len(sheets) == 3
    read = []
    for path in sorted((tmp_path / "out").iterdir()):
        with path.open(newline="", encoding="utf-8") as file:
            read.extend(list(csv.reader(file))[1:])
    assert sorted(read) == [[str(n), str(10**15 + n), "1E+400"] for n in range(3)]


@pytest.mark.parametrize(
    ("plural", "sheet"),
    [("history", "Sheet1"), ("line\nitems", "Line items"), ("a/b: c?", "A b  c")],
)
def test_the_views_sheet_name_from_the_model_is_always_one_excel_takes(
    monkeypatch: pytest.MonkeyPatch, plural: str, sheet: str
) -> None:
    monkeypatch.setattr(Book._meta, "verbose_name_plural", plural)
    view = XLSXStreamView(request=RequestFactory().get("/"))
    view.model = Book
    view.object_list = view.get_queryset()
    assert view.get_sheet_name() == sheet
