"""Aborting a connection the server itself would end cleanly.

uWSGI ends a response whose iteration raised as if it were complete: with
``--http-socket`` the body is delimited by the connection's close, which then
looks like the end, and its HTTP router (``--http`` with
``--http-auto-chunked``) writes the closing chunk after the worker gave up.
So before the error is re-raised to it, the request's socket is set to close
with a reset (``SO_LINGER`` 0), once what was already written has left the
send buffer: the client reads every byte made before the error, then sees an
incomplete transfer (a reset; through the router, a body without its closing
chunk).
"""

from __future__ import annotations

import importlib
import os
import socket
import struct
import time
from typing import Any

#: How long to wait for the written bytes to leave before resetting anyway.
DRAIN_TIMEOUT = 5.0


def abort_connection() -> bool:
    """Make the server's close of this request's connection a reset, where
    the server is known to end a failed response cleanly (uWSGI); whether it
    did."""
    try:
        # The embedded module exists only inside a uWSGI worker.
        uwsgi: Any = importlib.import_module("uwsgi")
    except ImportError:
        return False
    fd = uwsgi.connection_fd()
    if fd is None or fd < 0:
        return False
    # A duplicate: closing it leaves uWSGI's own descriptor open.
    sock = socket.socket(fileno=os.dup(fd))
    try:
        _drain(sock)
        # A reset rather than a FIN when uWSGI closes the socket.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        return False
    finally:
        sock.close()
    return True


def _drain(sock: socket.socket) -> None:
    """Wait, ``DRAIN_TIMEOUT`` at most, until the kernel has sent what was
    written (``TIOCOUTQ`` on a socket, Linux); where that can't be asked,
    don't wait."""
    try:
        import fcntl
        import termios

        request = termios.TIOCOUTQ
    except (ImportError, AttributeError):
        return  # not Linux: reset at once
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while time.monotonic() < deadline:
        unsent = struct.unpack("i", fcntl.ioctl(sock.fileno(), request, b"\0" * 4))[0]
        if not unsent:
            return
        time.sleep(0.01)
