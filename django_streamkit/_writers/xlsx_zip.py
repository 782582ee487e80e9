"""The workbook's ZIP container, written by stream-zip as its parts arrive.

stream-zip pulls its members' bytes; a streamed response pushes a batch of
rows at a time and must send every byte of that batch before the source is
read again (a row made before a pause is read by the client during the
pause). :class:`Zipper` turns one into the other without a thread:

- each worksheet member reads a queue that :meth:`Zipper.push` fills;
- every batch is deflated with a sync flush (stream-zip's ``get_compressobj``
  hook), so the deflate stream holds nothing back;
- when the queue runs dry the member hands stream-zip an empty chunk, which
  the compressor answers with stream-zip's flush marker, and stream-zip ends
  its output block there: the pull that began the batch returns with all of
  it. Blocks end only at those markers (the block size is never reached).

Members are plain ZIP (32-bit) members with data descriptors, as Java's
``ZipOutputStream`` (and so Apache POI) writes them: LibreOffice 7.4 refuses
stream-zip's ZIP64 members, so ZIP64 is kept to where it is needed. A
worksheet never outgrows a 32-bit member (the workbook starts a new sheet
first, see ``MAX_SHEET_BYTES``); a member that starts beyond 4 GiB into the
archive is ZIP64, and so are the archive's end records then.
Nothing here imports Django.
"""

from __future__ import annotations

import datetime
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import stream_zip

__all__ = ["MAX_SHEET_BYTES", "Zipper"]

#: A worksheet's XML ends before it grows past this (a 32-bit member's limit
#: is 4 GiB; deflate and sync flushes may add a little to the data).
MAX_SHEET_BYTES: Final = 4_000_000_000
#: Where a member must start for its 32-bit header to hold its offset.
ZIP32_OFFSETS: Final = 0xFFFF_FFFF

#: Larger than any output, so stream-zip cuts blocks only at flush markers.
_NO_BLOCK_LIMIT: Final = 1 << 62
_MODE: Final = 0o600
_LEVEL: Final = 3


def _stream_zip() -> Any:
    try:
        import stream_zip
    except ImportError as error:  # pragma: no cover - the extra is installed
        raise ImportError(
            "Streamed .xlsx workbooks need stream-zip: pip install "
            "'django-streamkit[xlsx]'."
        ) from error
    return stream_zip


class _SyncFlushing:
    """A raw-deflate compressor whose every chunk comes out whole."""

    __slots__ = ("_deflate", "_flush")

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
        # stream-zip's "end the output block here" marker, the one private
        # name used (tests/test_private_apis.py holds it to that).
        self._flush: bytes = _stream_zip()._flush

    def compress(self, data: bytes) -> bytes:
        if not data:
            return self._flush
        return self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def flush(self) -> bytes:
        return self._deflate.flush()


_END_MEMBER: Final = object()


class Zipper:
    """A ZIP stream that is pushed to: ``push(bytes)`` gives what is ready.

    ``first`` are the parts before the first sheet; ``last(names)`` gives the
    parts after the last one, from the sheets' names.
    """

    def __init__(
        self,
        first: Sequence[tuple[str, bytes]],
        last: Callable[[Sequence[str]], Sequence[tuple[str, bytes]]],
        *,
        modified: datetime.datetime | None = None,
    ) -> None:
        self._first = first
        self._last = last
        self._modified = modified or datetime.datetime.now()
        self._pending: deque[object] = deque()
        self._paths: deque[str] = deque()
        self._names: list[str] = []
        self._flushed = False
        self._ended = False
        # Bytes given to the archive and the sync flushes: bound its offsets.
        self._given = self._flushes = 0
        self.zip32_offsets = ZIP32_OFFSETS
        self._zip = zip_ = _stream_zip()
        self._output = iter(
            zip_.stream_zip(
                self._members(),
                chunk_size=_NO_BLOCK_LIMIT,
                get_compressobj=_SyncFlushing,
            )
        )

    def open_sheet(self, path: str, name: str) -> None:
        """Start the next worksheet member (after the current one ends)."""
        self._paths.append(path)
        self._names.append(name)

    def end_sheet(self) -> None:
        self._pending.append(_END_MEMBER)

    def write(self, data: bytes) -> None:
        """Queue ``data`` for the open sheet."""
        if data:
            self._pending.append(data)
            self._given += len(data)
            self._flushes += 1

    def push(self, data: bytes = b"") -> bytes:
        """Queue ``data``; all the ZIP bytes made of what was queued."""
        self.write(data)
        if not self._pending:
            return b""  # an empty block would end stream-zip's output
        self._flushed = False
        out = []
        while not self._flushed:
            out.append(next(self._output))
        return b"".join(out)

    def finish(self) -> bytes:
        """Every remaining byte, to the end of the central directory."""
        self._ended = True
        return b"".join(self._output)

    def _method(self, members: int) -> stream_zip.Method:
        # An upper bound of the next member's offset: deflate's worst case
        # adds 5 bytes a 16 KiB block, a sync flush 5, a member's records
        # under 200 (its name, timestamps, data descriptor).
        bound = self._given + self._given // 1000 + 8 * self._flushes
        bound += 1024 * members
        method: stream_zip.Method = (
            self._zip.ZIP_32 if bound < self.zip32_offsets else self._zip.ZIP_64
        )
        return method

    def _members(self) -> Iterator[stream_zip.MemberFile]:
        modified, members = self._modified, 0
        for path, data in self._first:
            self._given += len(data)
            yield path, modified, _MODE, self._method(members), (data,)
            members += 1
        while self._paths:
            path = self._paths.popleft()
            yield path, modified, _MODE, self._method(members), self._sheet()
            members += 1
        for path, data in self._last(self._names):
            self._given += len(data)
            yield path, modified, _MODE, self._method(members), (data,)
            members += 1

    def _sheet(self) -> Iterable[bytes]:
        pending = self._pending
        while True:
            if pending:
                item = pending.popleft()
                if item is _END_MEMBER:
                    return
                yield item  # type: ignore[misc]
            elif self._ended:
                return
            else:
                # The batch is in; the empty chunk ends the output block.
                self._flushed = True
                yield b""
