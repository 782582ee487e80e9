"""The XML parts of a workbook other than its rows, and sheet names.

A workbook is ``[Content_Types].xml``, the package and workbook
relationships, ``xl/styles.xml`` (the bold header and the date formats),
``xl/workbook.xml`` (the sheets' names) and one ``xl/worksheets/sheetN.xml``
per sheet. Every part but the workbook and its relationships is known before
the first row, so they go first; those two name every sheet, so they go last.
Nothing here imports Django.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Final
from xml.sax.saxutils import quoteattr

from django_streamkit._writers.xlsx_cells import BOLD, DATE, DATETIME, TIME

__all__ = ["check_sheet_name", "final_parts", "first_parts", "sheet_name_for"]

_MAIN: Final = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL: Final = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml"
DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

#: Excel's limit on a sheet name's length, and the characters it refuses.
MAX_SHEET_NAME: Final = 31
_FORBIDDEN: Final = frozenset("[]:*?/\\")
# XML 1.0 can't hold most of these (the workbook part would not parse), and
# Excel's sheet tab has no way to show the rest.
_CONTROL: Final = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")

_CONTENT_TYPES: Final = (
    DECLARATION
    + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    # Every other .xml part is a worksheet, so sheets need no entry of their own.
    f'<Default Extension="xml" ContentType="{_CT}.worksheet+xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>'
    "</Types>"
)
_PACKAGE_RELS: Final = (
    DECLARATION + f'<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_FORMATS: Final = {
    DATETIME: "yyyy-mm-dd hh:mm:ss",
    DATE: "yyyy-mm-dd",
    TIME: "hh:mm:ss",
}
_STYLES: Final = (
    DECLARATION + f'<styleSheet xmlns="{_MAIN}">'
    f'<numFmts count="{len(_FORMATS)}">'
    + "".join(
        f'<numFmt numFmtId="{162 + style}" formatCode="{code}"/>'
        for style, code in _FORMATS.items()
    )
    + "</numFmts>"
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
    "</borders>"
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    "</cellStyleXfs>"
    f'<cellXfs count="{2 + len(_FORMATS)}">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    f'<xf numFmtId="0" fontId="{BOLD}" fillId="0" borderId="0" xfId="0" '
    'applyFont="1"/>'
    + "".join(
        f'<xf numFmtId="{162 + style}" fontId="0" fillId="0" borderId="0" xfId="0" '
        'applyNumberFormat="1"/>'
        for style in _FORMATS
    )
    + "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    "</cellStyles></styleSheet>"
)


def first_parts() -> list[tuple[str, bytes]]:
    """The parts written before the first sheet."""
    return [
        ("[Content_Types].xml", _CONTENT_TYPES.encode()),
        ("_rels/.rels", _PACKAGE_RELS.encode()),
        ("xl/styles.xml", _STYLES.encode()),
    ]


def sheet_path(number: int) -> str:
    return f"xl/worksheets/sheet{number}.xml"


def final_parts(names: Sequence[str]) -> list[tuple[str, bytes]]:
    """The workbook and its relationships, once every sheet is known."""
    sheets = "".join(
        f'<sheet name={quoteattr(name)} sheetId="{n}" r:id="rId{n}"/>'
        for n, name in enumerate(names, 1)
    )
    workbook = (
        DECLARATION + f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
        f"<sheets>{sheets}</sheets></workbook>"
    )
    rels = "".join(
        f'<Relationship Id="rId{n}" Type="{_REL}/worksheet" '
        f'Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, len(names) + 1)
    )
    styles = (
        f'<Relationship Id="rId{len(names) + 1}" Type="{_REL}/styles" '
        'Target="styles.xml"/>'
    )
    workbook_rels = (
        DECLARATION + f'<Relationships xmlns="{_PKG_REL}">{rels}{styles}'
        "</Relationships>"
    )
    return [
        ("xl/workbook.xml", workbook.encode()),
        ("xl/_rels/workbook.xml.rels", workbook_rels.encode()),
    ]


def check_sheet_name(name: object) -> str:
    """``name`` if Excel takes it as a sheet name, else a ``ValueError``."""
    if not isinstance(name, str):
        raise TypeError(
            f"sheet_name must be a str, not {name!r} ({type(name).__name__})."
        )
    problem = None
    if not name.strip():
        problem = "is empty"
    elif len(name) > MAX_SHEET_NAME:
        problem = f"is longer than {MAX_SHEET_NAME} characters"
    elif bad := sorted(_FORBIDDEN.intersection(name)):
        problem = f"holds {''.join(bad)!r}, which Excel refuses"
    elif control := _CONTROL.search(name):
        problem = f"holds the control character {control.group()!r}"
    elif name.startswith("'") or name.endswith("'"):
        problem = "starts or ends with an apostrophe"
    elif name.casefold() == "history":
        problem = "is reserved by Excel"
    if problem is not None:
        raise ValueError(
            f"sheet_name {name!r} {problem}; use up to {MAX_SHEET_NAME} characters "
            f"other than {''.join(sorted(_FORBIDDEN))}."
        )
    return name


def sheet_name_for(name: str, number: int, taken: Collection[str] = ()) -> str:
    """The name of sheet ``number`` (from 1) of a workbook named ``name``:
    ``Orders``, ``Orders (2)``, ... cut to Excel's length, and cut further
    while it is one of the casefolded names ``taken`` (Excel refuses a
    workbook with two sheets of one name, in any case)."""
    if number == 1:
        return name
    suffix = f" ({number})"
    keep = MAX_SHEET_NAME - len(suffix)
    while (numbered := name[:keep] + suffix).casefold() in taken and keep:
        keep -= 1
    return numbered


def sheet_start(widths: Sequence[int], frozen: bool) -> str:
    """A worksheet up to its first row: the frozen header pane, the widths."""
    view = (
        '<sheetViews><sheetView workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft"/></sheetView></sheetViews>'
        if frozen
        else ""
    )
    cols = "".join(
        f'<col min="{n}" max="{n}" width="{width}" customWidth="1"/>'
        for n, width in enumerate(widths, 1)
    )
    return (
        f'<worksheet xmlns="{_MAIN}">{view}'
        f'<sheetFormatPr defaultRowHeight="15"/>'
        + (f"<cols>{cols}</cols>" if cols else "")
        + "<sheetData>"
    )


SHEET_END: Final = "</sheetData></worksheet>"
