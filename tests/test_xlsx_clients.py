"""LibreOffice opens a streamed workbook and reads back every value and type.

LibreOffice (headless ``soffice``, installed by scripts/services) loads the
file we stream, with a sheet limit small enough that the rows cross onto
new sheets, and saves it twice: as ``.xlsx`` (its own writer; openpyxl then
reads the types it kept) and as UTF-8 CSV per sheet (the text exactly as it
read it, Excel's ``_xHHHH_`` escapes decoded). pandas reading the demo's
orders is in tests/test_demo.py.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from django_streamkit import stream_xlsx

ROWS_PER_SHEET = 4  # the header and 3 rows
TEXTS = [
    "=1+2",
    "a < b & c",
    "_x0041_ is no escape",
    "crlf\r\nend",
    "  padded ",
    "Zürich \N{SNAKE}",
]


def rows() -> list[list[object]]:
    out: list[list[object]] = []
    for i, text in enumerate(TEXTS):
        out.append(
            [
                i,
                i * 1.25 - 3,
                decimal.Decimal(f"{i}.05"),
                i % 2 == 0,
                None if i % 3 == 0 else "x",
                text,
                datetime.datetime(2024, 1, 31, 23, 59, 59) + datetime.timedelta(days=i),
                datetime.date(2000, 2, 28) + datetime.timedelta(days=i),
                datetime.time(i, 30, 15),
            ]
        )
    return out


HEADER = ["int", "float", "decimal", "bool", "maybe", "text", "when", "day", "at"]


def soffice(tmp_path: Path, source: Path, target: str) -> None:
    binary = shutil.which("soffice")
    assert binary is not None, (
        "LibreOffice (soffice) is missing; scripts/services installs it."
    )
    subprocess.run(
        [
            binary,
            f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            target,
            "--outdir",
            str(tmp_path / "out"),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("libreoffice")
    source = tmp_path / "streamed.xlsx"
    chunks = stream_xlsx(
        rows(), header=HEADER, sheet_name="Data", rows_per_sheet=ROWS_PER_SHEET
    )
    source.write_bytes(b"".join(chunks))  # type: ignore[arg-type]
    soffice(tmp_path, source, "xlsx:Calc MS Excel 2007 XML")
    # Every sheet as UTF-8 CSV, quoted text: 44 ",", 34 '"', 76 UTF-8, row 1,
    # ..., -1 every sheet (one file each).
    soffice(
        tmp_path,
        source,
        "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,true,true,false,false,false,-1",
    )
    return tmp_path / "out"


def test_libreoffice_keeps_every_type(converted: Path) -> None:
    # LibreOffice writes a bool as the formula TRUE() with its value cached.
    book = openpyxl.load_workbook(converted / "streamed.xlsx", data_only=True)
    assert book.sheetnames == ["Data", "Data (2)"]
    read = []
    for sheet in book:
        cells = list(sheet.iter_rows(values_only=True))
        assert cells[0] == tuple(HEADER)
        read.extend(cells[1:])
    assert len(read) == len(TEXTS)
    for got, want in zip(read, rows(), strict=True):
        i, number, amount, flag, maybe, _text, when, day, at = got
        assert i == want[0]
        assert type(i) is int
        assert number == want[1]
        assert amount == float(want[2])  # type: ignore[arg-type]
        assert flag is want[3]
        assert maybe == want[4]
        assert when == want[6]
        assert day == datetime.datetime.combine(want[7], datetime.time())  # type: ignore[arg-type]
        assert at == want[8]


def test_libreoffice_reads_every_text_as_written(converted: Path) -> None:
    texts = []
    for name in ("streamed-Data.csv", "streamed-Data (2).csv"):
        with (converted / name).open(newline="", encoding="utf-8") as file:
            texts.extend(row[5] for row in list(csv.reader(file))[1:])
    # LibreOffice's cells break lines with LF alone: it reads the CR LF that
    # openpyxl reads back whole (tests/test_xlsx.py) as one line break.
    assert texts == [text.replace("\r\n", "\n") for text in TEXTS]
