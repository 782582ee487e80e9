"""Gzip for streamed bodies that flushes the compressor after every chunk.

Django's ``compress_sequence`` only does this from Django 6.1 on (ticket
#36293); before that a slow stream's bytes wait in zlib's buffer. Chunks from
streamkit's core are already about 64 KiB, so flushing each one costs little
compression.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from gzip import GzipFile
from io import BytesIO


class _Buffer(BytesIO):
    def take(self) -> bytes:
        data = self.getvalue()
        self.seek(0)
        self.truncate()
        return data


def _gzip_file(buffer: _Buffer, max_random_bytes: int | None) -> GzipFile:
    # A random-length file name in the header hides the body's compressed
    # length from BREACH-style attacks, as Django's own compressor does.
    name = b"a" * secrets.randbelow(max_random_bytes) if max_random_bytes else None
    return GzipFile(filename=name, mode="wb", compresslevel=6, fileobj=buffer, mtime=0)


class _Compressor:
    """One gzip stream, flushed after every chunk; shared by both drivers."""

    def __init__(self, max_random_bytes: int | None) -> None:
        self._buffer = _Buffer()
        self._gzip = _gzip_file(self._buffer, max_random_bytes)

    def start(self) -> bytes:
        return self._buffer.take()  # the gzip header

    def push(self, chunk: bytes) -> bytes:
        self._gzip.write(chunk)
        self._gzip.flush()
        return self._buffer.take()

    def end(self) -> bytes:
        self._gzip.close()
        return self._buffer.take()

    def close(self) -> None:
        """Let go of the stream cut off early (the client left), so nothing
        is left for the garbage collector to flush into a closed buffer."""
        if not self._gzip.closed:
            self._gzip.close()


def compress_chunks(
    chunks: Iterable[bytes], *, max_random_bytes: int | None = None
) -> Iterator[bytes]:
    gzip = _Compressor(max_random_bytes)
    try:
        yield gzip.start()
        for chunk in chunks:
            if data := gzip.push(chunk):
                yield data
        yield gzip.end()
    finally:
        gzip.close()


async def acompress_chunks(
    chunks: AsyncIterable[bytes], *, max_random_bytes: int | None = None
) -> AsyncIterator[bytes]:
    gzip = _Compressor(max_random_bytes)
    try:
        yield gzip.start()
        async for chunk in chunks:
            if data := gzip.push(chunk):
                yield data
        yield gzip.end()
    finally:
        gzip.close()
