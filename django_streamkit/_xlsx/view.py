"""``XLSXStreamView``: :class:`~django_streamkit.views.CSVStreamView` as a
workbook. Import it from :mod:`django_streamkit.views`."""

from __future__ import annotations

from typing import ClassVar, Unpack

from django.http import HttpRequest
from django.utils.text import capfirst

from django_streamkit._writers.xlsx_parts import MAX_SHEET_NAME, check_sheet_name
from django_streamkit.views import CSVStreamView
from django_streamkit.xlsx import StreamingXLSXResponse, XLSXOptions

__all__ = ["XLSXStreamView"]

# Excel's forbidden characters and the control characters, as spaces.
_FORBIDDEN = str.maketrans(
    dict.fromkeys([*"[]:*?/\\", *map(chr, range(32)), "\x7f"], " ")
)


class XLSXStreamView(CSVStreamView):
    """Stream a QuerySet as an ``.xlsx`` download: :class:`CSVStreamView`'s
    ``model``, ``queryset``, ``fields``, ``labels``, ``choices_as_labels`` and
    hooks, written by :func:`~django_streamkit.xlsx.stream_xlsx`.

    Cells keep their types, so there is nothing to escape: the CSV-only
    attributes (``dialect``, ``encoding``, ``bom``, ``escape_formulas``,
    ``verbatim_fields``) are ignored. ``sheet_name`` defaults to the model's
    plural name; ``rows_per_sheet`` to Excel's limit.
    """

    response_class: ClassVar[type[StreamingXLSXResponse]] = StreamingXLSXResponse  # type: ignore[assignment]
    sheet_name: str | None = None
    rows_per_sheet: int | None = None

    def get(  # type: ignore[override]
        self, request: HttpRequest, *args: object, **kwargs: object
    ) -> StreamingXLSXResponse:
        self.object_list = self.get_queryset()
        self.columns = self.get_columns()
        return self.render_to_xlsx()

    def get_filename(self) -> str | None:
        name = super().get_filename()
        if self.filename is None and name is not None and name.endswith(".csv"):
            return name[: -len(".csv")] + ".xlsx"
        return name

    def get_sheet_name(self) -> str:
        """``sheet_name``, or the model's plural name as Excel takes it."""
        if self.sheet_name is not None:
            return check_sheet_name(self.sheet_name)
        plural = str(capfirst(self.object_list.model._meta.verbose_name_plural))
        name = plural.translate(_FORBIDDEN).strip(" '")[:MAX_SHEET_NAME].strip()
        try:
            return check_sheet_name(name)
        except ValueError:  # empty, or a name Excel reserves ("History")
            return "Sheet1"

    def get_xlsx_kwargs(self) -> XLSXOptions:
        return XLSXOptions(
            sheet_name=self.get_sheet_name(),
            rows_per_sheet=self.rows_per_sheet,
            chunk_size=self.chunk_size,
        )

    def render_to_xlsx(self, **options: Unpack[XLSXOptions]) -> StreamingXLSXResponse:
        kwargs = self.get_xlsx_kwargs()
        kwargs["header"] = self.get_header(self.columns)
        kwargs.update(options)
        return self.response_class(
            self.get_body_rows(), filename=self.get_filename(), **kwargs
        )

    def render_to_response(  # type: ignore[override]
        self, **options: Unpack[XLSXOptions]
    ) -> StreamingXLSXResponse:
        return self.render_to_xlsx(**options)
