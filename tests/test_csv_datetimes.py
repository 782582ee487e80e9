"""Datetimes and times in CSV: one shape per column, read as dates by
pandas and LibreOffice, in the current time zone."""

from __future__ import annotations

import asyncio
import datetime
import io
import re
import shutil
import subprocess
import zoneinfo
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from django.test import override_settings
from django.utils import timezone

from django_streamkit import stream_csv
from django_streamkit._writers.datetimes import DateTimeText
from tests.support.databases import each_database
from tests.support.testapp.models import Sample

UTC = datetime.UTC
PARIS = "Europe/Paris"
# The issue's column: microseconds dropped by str() when they are 0.
MIXED = [
    datetime.datetime(2024, 5, 1, 12, 30, 9, tzinfo=UTC),
    datetime.datetime(2024, 5, 1, 12, 30, 58, 286786, tzinfo=UTC),
    datetime.datetime(2024, 12, 1, 23, 59, 59, 1, tzinfo=UTC),  # winter time
]
LOCAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}")
ISO = re.compile(LOCAL.pattern + r"\+00:00")


def lines(rows: Any, **options: Any) -> list[str]:
    return b"".join(stream_csv(rows, **options)).decode().splitlines()  # type: ignore[arg-type]


def test_the_mixed_column_from_the_issue_has_one_shape() -> None:
    cells = lines([[value] for value in MIXED])
    assert cells == [
        "2024-05-01T12:30:09.000000",
        "2024-05-01T12:30:58.286786",
        "2024-12-01T23:59:59.000001",
    ]
    assert all(LOCAL.fullmatch(cell) for cell in cells)


def test_aware_datetimes_are_in_the_current_time_zone_without_offset() -> None:
    with timezone.override(PARIS):
        rows = stream_csv([[value] for value in MIXED])
    # Taken when stream_csv is called (in the view), not when it is read.
    assert b"".join(rows).decode().splitlines() == [
        "2024-05-01T14:30:09.000000",  # summer time, UTC+2
        "2024-05-01T14:30:58.286786",
        "2024-12-02T00:59:59.000001",  # winter time, UTC+1
    ]


def test_the_iso_format_is_utc_with_its_offset() -> None:
    paris = MIXED[0].astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    with (
        override_settings(STREAMKIT_CSV_DATETIME_FORMAT="iso"),
        timezone.override(PARIS),
    ):
        cells = lines([[value] for value in [*MIXED, paris]])
    assert cells == [
        "2024-05-01T12:30:09.000000+00:00",
        "2024-05-01T12:30:58.286786+00:00",
        "2024-12-01T23:59:59.000001+00:00",
        "2024-05-01T12:30:09.000000+00:00",
    ]
    assert all(ISO.fullmatch(cell) for cell in cells)


def test_naive_datetimes_times_and_dates() -> None:
    rows = [
        [
            datetime.datetime(2024, 5, 1, 12, 30),
            datetime.time(8, 5),
            datetime.date(2024, 5, 1),
        ],
        [
            datetime.datetime(2024, 5, 1, 12, 30, 0, 5),
            datetime.time(8, 5, 1, 250000),
            datetime.date(1, 1, 1),
        ],
    ]
    with timezone.override(PARIS):  # naive values are written as they are
        assert lines(rows) == [
            "2024-05-01T12:30:00.000000,08:05:00.000000,2024-05-01",
            "2024-05-01T12:30:00.000005,08:05:01.250000,0001-01-01",
        ]


def test_dict_rows_async_rows_and_quoting_all() -> None:
    header = ["when", "n"]
    dicts = [{"when": value, "n": i} for i, value in enumerate(MIXED[:2])]
    assert lines(dicts, header=header, quoting=1)[1:] == [
        '"2024-05-01T12:30:09.000000","0"',
        '"2024-05-01T12:30:58.286786","1"',
    ]

    async def source() -> AsyncIterator[list[Any]]:
        for value in MIXED[:2]:
            yield [value]

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in stream_csv(source())])

    with timezone.override(PARIS):
        out = asyncio.run(collect())
    assert out == b"2024-05-01T14:30:09.000000\r\n2024-05-01T14:30:58.286786\r\n"


def test_a_bad_format_setting_is_a_clear_error() -> None:
    with (
        override_settings(STREAMKIT_CSV_DATETIME_FORMAT="utc"),
        pytest.raises(ValueError, match=r"'utc'.*'local', 'iso'.*DATETIME_FORMAT"),
    ):
        stream_csv([[MIXED[0]]])


def test_rows_of_different_lengths() -> None:
    rows = [[MIXED[0]], [1, MIXED[1]], [], [datetime.time(1, 2), None, MIXED[2]]]
    assert lines(rows) == [
        "2024-05-01T12:30:09.000000",
        "1,2024-05-01T12:30:58.286786",
        "",
        "01:02:00.000000,,2024-12-01T23:59:59.000001",
    ]


def test_rows_without_datetimes_are_not_copied() -> None:
    text = DateTimeText()
    batch = [[1, "a", datetime.date(2024, 1, 1)], [None, 2.5, b"x"]]
    assert text.rows(batch) is batch
    assert text.rows([]) == []


@pytest.mark.parametrize("db", each_database())
@pytest.mark.parametrize("style", ["local", "iso"])
def test_querysets_give_the_same_shape(db: str, style: str) -> None:
    Sample.objects.using(db).bulk_create(Sample(moment=value) for value in MIXED)
    queryset = Sample.objects.using(db).order_by("pk").values_list("moment")
    with override_settings(STREAMKIT_CSV_DATETIME_FORMAT=style):
        for zone in ("UTC", PARIS):
            with timezone.override(zone):
                expected = [
                    DateTimeText(style, timezone.get_current_timezone()).datetime(v)
                    for v in MIXED
                ]
                assert lines(queryset) == expected
                assert lines(queryset.iterator()) == expected


# -- what pandas and LibreOffice make of it -----------------------------------


def test_pandas_reads_the_column_as_datetimes() -> None:
    with timezone.override(PARIS):
        data = b"".join(stream_csv([[v] for v in MIXED], header=["when"]))
    frame = pd.read_csv(io.BytesIO(data), parse_dates=["when"])
    assert str(frame["when"].dtype).startswith("datetime64")
    paris = zoneinfo.ZoneInfo(PARIS)
    assert list(frame["when"]) == [
        pd.Timestamp(v.astimezone(paris).replace(tzinfo=None)) for v in MIXED
    ]
    with override_settings(STREAMKIT_CSV_DATETIME_FORMAT="iso"):
        data = b"".join(stream_csv([[v] for v in MIXED], header=["when"]))
    frame = pd.read_csv(io.BytesIO(data), parse_dates=["when"])
    assert str(frame["when"].dtype) == "datetime64[us, UTC]"
    assert list(frame["when"]) == [pd.Timestamp(v) for v in MIXED]


def test_pandas_could_not_read_the_old_shape() -> None:
    # The reason for the shape: str() of the same values is left as text.
    data = "when\n" + "\n".join(map(str, MIXED)) + "\n"
    frame = pd.read_csv(io.StringIO(data), parse_dates=["when"])
    assert not str(frame["when"].dtype).startswith("datetime64")


def test_libreoffice_reads_datetimes_and_dates(tmp_path: Path) -> None:
    soffice = shutil.which("soffice")
    assert soffice is not None, (
        "LibreOffice (soffice) is missing; scripts/services installs it."
    )
    values = [*MIXED, datetime.datetime(1999, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)]
    with timezone.override(PARIS):
        rows = [[v, v.date()] for v in values]
        expected = [timezone.localtime(v).replace(tzinfo=None) for v in values]
        data = b"".join(stream_csv(rows, header=["when", "day"]))
    # The old shape, for contrast: LibreOffice keeps it as text.
    data += b"".join(f"{v},{v.date()}\r\n".encode() for v in values)
    source = tmp_path / "export.csv"
    source.write_bytes(data)
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    sheet = openpyxl.load_workbook(tmp_path / "export.xlsx").active
    assert sheet is not None
    cells = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    new, old = cells[: len(values)], cells[len(values) :]
    for (when, day), value, local in zip(new, values, expected, strict=True):
        assert isinstance(when, datetime.datetime), when
        # A spreadsheet keeps a date-time as a fraction of days: ~1 µs off.
        assert abs(when - local) < datetime.timedelta(milliseconds=1)
        assert day == datetime.datetime.combine(value.date(), datetime.time())
    assert all(isinstance(when, str) for when, _ in old)
