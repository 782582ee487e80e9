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


def compress_chunks(
    chunks: Iterable[bytes], *, max_random_bytes: int | None = None
) -> Iterator[bytes]:
    buffer = _Buffer()
    with _gzip_file(buffer, max_random_bytes) as gzip:
        yield buffer.take()
        for chunk in chunks:
            gzip.write(chunk)
            gzip.flush()
            if data := buffer.take():
                yield data
    yield buffer.take()


async def acompress_chunks(
    chunks: AsyncIterable[bytes], *, max_random_bytes: int | None = None
) -> AsyncIterator[bytes]:
    buffer = _Buffer()
    with _gzip_file(buffer, max_random_bytes) as gzip:
        yield buffer.take()
        async for chunk in chunks:
            gzip.write(chunk)
            gzip.flush()
            if data := buffer.take():
                yield data
    yield buffer.take()
