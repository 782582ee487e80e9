"""The stream types, named once."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import TypeAlias

Piece: TypeAlias = str | bytes | memoryview
SyncStream: TypeAlias = Iterable[Piece]
AsyncStream: TypeAlias = AsyncIterable[Piece]
Stream: TypeAlias = SyncStream | AsyncStream
SyncChunks: TypeAlias = Iterator[bytes]
AsyncChunks: TypeAlias = AsyncIterator[bytes]
